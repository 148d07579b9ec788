/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <getopt.h>

struct config;

/* Exit codes shared by every subcommand (documented in README and the man page). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,         /* runtime or configuration error */
	EXIT_USAGE = 2,         /* bad command line, or not available */
	EXIT_ATTENTION = 3,     /* scan: public listener; status: not enforcing */
};

struct cli_ctx {
	const char *config_path;        /* -c/--config, NULL for the default */
};

/* Options every subcommand takes; handle them with cli_common_option(). */
#define CLI_COMMON_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "config", required_argument, NULL, 'c' }
#define CLI_COMMON_SHORTOPTS "+hc:"

struct cli_command {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;
	const char *usage;      /* options after "port53guard NAME" */
};

/* The dispatch: parses global options and calls the subcommand. Returns
 * the process exit code. */
int cli_main(int argc, char **argv);

/* For subcommands: handles -h and -c from CLI_COMMON_*; returns 1 when the
 * option was one of them and help was printed (the caller exits 0), 0 when
 * handled, -1 when the option is not a common one. */
int cli_common_option(struct cli_ctx *ctx, const struct cli_command *cmd, int opt);
void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cli_help(const struct cli_command *cmd);

/* Loads the configuration for a subcommand; on error prints one line to
 * stderr naming file, line, key and value, and returns a negative errno. */
int cli_load_config(const struct cli_ctx *ctx, struct config **ret);

/* The command table entry by name, or NULL. */
const struct cli_command *cli_find(const char *name);

/* Subcommands, one file each. */
int cmd_run(struct cli_ctx *ctx, int argc, char **argv);
int cmd_scan(struct cli_ctx *ctx, int argc, char **argv);
int cmd_apply(struct cli_ctx *ctx, int argc, char **argv);
int cmd_remove(struct cli_ctx *ctx, int argc, char **argv);
int cmd_status(struct cli_ctx *ctx, int argc, char **argv);
int cmd_replay(struct cli_ctx *ctx, int argc, char **argv);
int cmd_check_config(struct cli_ctx *ctx, int argc, char **argv);
int cmd_version(struct cli_ctx *ctx, int argc, char **argv);

/* For a subcommand whose part is not built: prints so, returns EXIT_USAGE. */
int cli_not_available(const char *name);

/* For subcommands that take only the common options and up to max_args
 * operands: returns -1 to go on (operands start at argv[optind]), or the
 * exit code to return at once (help shown, or a usage error). */
int cli_parse_simple(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
		     int max_args);
