/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <getopt.h>
#include <stddef.h>

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


struct cli_command {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;
	const char *usage;      /* options after "port53guard NAME" */
};

/* The dispatch: parses global options and calls the subcommand. Returns
 * the process exit code. */
int cli_main(int argc, char **argv);

void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
int cmd_report(struct cli_ctx *ctx, int argc, char **argv);
int cmd_check_config(struct cli_ctx *ctx, int argc, char **argv);
int cmd_version(struct cli_ctx *ctx, int argc, char **argv);

/* For a subcommand whose part is not built: prints so, returns EXIT_USAGE. */
int cli_not_available(const char *name);

/* One option of a subcommand's own: its getopt entry (val is the key
 * handed to the callback; a letter also makes it a short option) and the
 * line --help shows for it. */
struct cli_option {
	struct option opt;
	const char *help;
};

/* Called for each of the subcommand's own options; returns 0, or a
 * negative number after which cli_parse reports a bad value for it. */
typedef int (*cli_option_fn)(int key, const char *arg, void *userdata);

/* Parses the common options and the subcommand's own, then checks that
 * between min_args and max_args operands follow. Returns -1 to go on
 * (operands start at argv[optind]), or the exit code to return at once
 * (help shown, or a usage error printed). */
int cli_parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
	      const struct cli_option *opts, size_t n_opts, cli_option_fn fn, void *userdata,
	      int min_args, int max_args);

/* A cli_option_fn for a single flag: sets the bool userdata points to. */
int cli_option_set_bool(int key, const char *arg, void *userdata);

/* cli_parse without options of the subcommand's own. */
int cli_parse_simple(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
		     int max_args);
