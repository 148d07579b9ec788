/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const struct cli_command commands[] = {
	{ "run", cmd_run, "run the agent in the foreground (what the service runs)", "" },
	{ "scan", cmd_scan, "list port-53 listeners and whether the world can reach them", "[--json]" },
	{ "apply", cmd_apply, "install the rules from the configuration, once", "[--dry-run | --verify]" },
	{ "remove", cmd_remove, "delete the port53guard table (lifts the rule)", "" },
	{ "status", cmd_status, "show what the running agent reports", "[--json]" },
	{ "replay", cmd_replay, "run the traffic pipeline over a saved capture", "[--format summary|jsonl] [--rows N] FILE" },
	{ "check-config", cmd_check_config, "validate the configuration and print the effective values", "" },
	{ "version", cmd_version, "print the version and the libraries in use", "" },
};

const struct cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void main_help(FILE *out)
{
	fprintf(out,
		"Usage: port53guard [-c FILE] COMMAND [OPTIONS]\n"
		"\n"
		"Refuses inbound DNS (UDP:53 from anywhere) with nftables, like a cloud\n"
		"security group rule, and reports who listens on and queries port 53.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -c, --config FILE  main configuration file (default %s);\n"
		"                     *.conf in conf.d/ beside it are read after it\n"
		"  -h, --help         show this help; 'port53guard COMMAND --help' for one command\n"
		"\n"
		"Exit status: 0 ok, 1 error, 2 usage, 3 needs attention (see the man page).\n",
		CONFIG_DEFAULT_PATH);
}

void cli_help(const struct cli_command *cmd)
{
	printf("Usage: port53guard [-c FILE] %s%s%s\n\n%s\n\n"
	       "Options:\n"
	       "  -c, --config FILE  main configuration file (default %s)\n"
	       "  -h, --help         show this help\n",
	       cmd->name, *cmd->usage ? " " : "", cmd->usage, cmd->summary, CONFIG_DEFAULT_PATH);
}

void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "port53guard %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'port53guard %s --help'.\n", cmd->name);
}

int cli_common_option(struct cli_ctx *ctx, const struct cli_command *cmd, int opt)
{
	switch (opt) {
	case 'h':
		cli_help(cmd);
		return 1;
	case 'c':
		ctx->config_path = optarg;
		return 0;
	default:
		return -1;
	}
}

int cli_load_config(const struct cli_ctx *ctx, struct config **ret)
{
	struct config_error err;
	char *line;
	int r;

	r = config_load(ctx->config_path, ret, &err);
	if (r < 0) {
		line = config_error_string(&err);
		fprintf(stderr, "port53guard: invalid configuration: %s\n", line ? line : err.message);
		free(line);
	}
	return r;
}

int cli_not_available(const char *name)
{
	fprintf(stderr, "port53guard %s: not available in this version\n", name);
	return EXIT_USAGE;
}

int cli_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct cli_ctx ctx = { 0 };
	const struct cli_command *cmd;
	int opt;

	while ((opt = getopt_long(argc, argv, "+hc:V", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			main_help(stdout);
			return EXIT_OK;
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'V':
			return cmd_version(&ctx, 1, (char *[]){ "version", NULL });
		default:
			fprintf(stderr, "Try 'port53guard --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		main_help(stderr);
		return EXIT_USAGE;
	}
	cmd = cli_find(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "port53guard: unknown command '%s'\nTry 'port53guard --help'.\n", argv[optind]);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;     /* glibc: 0 re-initialises getopt for the subcommand */
	return cmd->run(&ctx, argc, argv);
}

int cli_parse_simple(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
		     int max_args)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { 0 } };
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		r = cli_common_option(ctx, cmd, opt);
		if (r == 1)
			return EXIT_OK;
		if (r < 0) {
			cli_usage_error(cmd, "unknown option");
			return EXIT_USAGE;
		}
	}
	if (argc - optind > max_args) {
		cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
		return EXIT_USAGE;
	}
	return -1;
}
