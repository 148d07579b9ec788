/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const struct cli_command commands[] = {
	{ "run", cmd_run, "run the agent in the foreground (what the service runs)", "" },
	{ "scan", cmd_scan, "list port-53 listeners and whether the world can reach them", "[--json]" },
	{ "apply", cmd_apply, "install the rules from the configuration, once", "[--dry-run | --verify | --force]" },
	{ "remove", cmd_remove, "delete the port53guard table (lifts the rule)", "" },
	{ "status", cmd_status, "show what the running agent reports", "[--json]" },
	{ "report", cmd_report, "when UDP:53 was refused, and every gap with its cause, from the journal",
	  "[--since WHEN] [--until WHEN] [--format text|json|html] [-o FILE] [--directory DIR | --file FILE]" },
	{ "replay", cmd_replay, "run the traffic pipeline over a saved capture", "[--format summary|jsonl] [--rows N] [--sample] FILE" },
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

static void command_help(const struct cli_command *cmd, const struct cli_option *opts, size_t n_opts)
{
	printf("Usage: port53guard [-c FILE] %s%s%s\n\n%s\n\n"
	       "Options:\n"
	       "  -c, --config FILE  main configuration file (default %s)\n"
	       "  -h, --help         show this help\n",
	       cmd->name, *cmd->usage ? " " : "", cmd->usage, cmd->summary, CONFIG_DEFAULT_PATH);
	for (size_t i = 0; i < n_opts; i++)
		if (opts[i].help && *opts[i].help)
			printf("%s\n", opts[i].help);
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

#define CLI_MAX_OPTIONS 16

/* getopt's tables: the common options, then the subcommand's own. */
static int build_tables(const struct cli_option *opts, size_t n_opts, struct option *longopts,
			char *shortopts, size_t shortlen)
{
	size_t n = 0, k;

	if (n_opts > CLI_MAX_OPTIONS)
		return -1;
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	k = (size_t)snprintf(shortopts, shortlen, "+hc:");
	for (size_t i = 0; i < n_opts; i++) {
		longopts[n++] = opts[i].opt;
		if (opts[i].opt.val < 'A' || opts[i].opt.val > 'z' || k + 3 >= shortlen)
			continue;
		shortopts[k++] = (char)opts[i].opt.val;
		if (opts[i].opt.has_arg == required_argument)
			shortopts[k++] = ':';
	}
	shortopts[k] = '\0';
	longopts[n] = (struct option){ 0 };
	return 0;
}

static const struct cli_option *find_option(const struct cli_option *opts, size_t n_opts, int key)
{
	for (size_t i = 0; i < n_opts; i++)
		if (opts[i].opt.val == key)
			return &opts[i];
	return NULL;
}

int cli_parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
	      const struct cli_option *opts, size_t n_opts, cli_option_fn fn, void *userdata,
	      int min_args, int max_args)
{
	struct option longopts[CLI_MAX_OPTIONS + 3];
	char shortopts[2 * CLI_MAX_OPTIONS + 8];
	const struct cli_option *o;
	int key;

	if (build_tables(opts, n_opts, longopts, shortopts, sizeof(shortopts)) < 0)
		return EXIT_ERROR;
	while ((key = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (key == 'h') {
			command_help(cmd, opts, n_opts);
			return EXIT_OK;
		}
		if (key == 'c') {
			ctx->config_path = optarg;
			continue;
		}
		o = find_option(opts, n_opts, key);
		if (!o) {
			cli_usage_error(cmd, "unknown option");
			return EXIT_USAGE;
		}
		if (fn(key, optarg, userdata) < 0) {
			if (optarg)
				cli_usage_error(cmd, "invalid value '%s' for --%s", optarg, o->opt.name);
			else
				cli_usage_error(cmd, "--%s cannot be used here", o->opt.name);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < min_args) {
		cli_usage_error(cmd, "missing argument");
		return EXIT_USAGE;
	}
	if (argc - optind > max_args) {
		cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
		return EXIT_USAGE;
	}
	return -1;
}

int cli_option_set_bool(int key, const char *arg, void *userdata)
{
	(void)key;
	(void)arg;
	*(bool *)userdata = true;
	return 0;
}

static int no_option(int key, const char *arg, void *userdata)
{
	(void)key;
	(void)arg;
	(void)userdata;
	return -1;
}

int cli_parse_simple(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
		     int max_args)
{
	return cli_parse(ctx, cmd, argc, argv, NULL, 0, no_option, NULL, 0, max_args);
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
			/* cmd_version parses its own (empty) options: getopt must
			 * start over, or it reads past this one-element argv. */
			optind = 0;
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
