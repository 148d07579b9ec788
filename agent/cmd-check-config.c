/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "rulesconf.h"
#include "sgpolicy.h"

static void print_policy_summary(const struct rulesconf_policy *pol)
{
	const struct sgpolicy *p = pol->policy;

	size_t n = p->n_entries + p->n_skipped;

	printf("# policy_file: %zu security %s, %zu ingress %s: %zu rules for port 53, "
	       "%zu out of scope, %zu skipped\n", p->n_groups, p->n_groups == 1 ? "group" : "groups",
	       n, n == 1 ? "entry" : "entries", pol->mirror->n_rules, pol->mirror->n_out_of_scope,
	       p->n_skipped);
}

/* Warnings go to stderr, one line each, like the policy's: stdout stays the
 * effective configuration, which reads back as a configuration file. */
static void print_warning(const struct config_warning *w, void *userdata)
{
	char *line = config_warning_string(w);

	(void)userdata;
	fprintf(stderr, "port53guard check-config: warning: %s\n", line ? line : w->code);
	free(line);
}

int cmd_check_config(struct cli_ctx *ctx, int argc, char **argv)
{
	struct rulesconf_policy *pol = NULL;
	struct config *c;
	char err[768] = "";
	int r = cli_parse_simple(ctx, cli_find("check-config"), argc, argv, 0);

	if (r >= 0)
		return r;
	if (cli_load_config(ctx, &c) < 0)
		return EXIT_ERROR;
	/* The policy file is part of the configuration: an error in it would
	 * stop the agent at start, so it is found here first. */
	if (rulesconf_policy_load(c, &pol, err, sizeof(err)) < 0) {
		fprintf(stderr, "port53guard: invalid policy: %s\n", err[0] ? err : "out of memory");
		config_free(c);
		return EXIT_ERROR;
	}
	/* A warning is legal configuration: the exit status stays 0. */
	config_warnings(c, CONFIG_WARN_INTERFACES, print_warning, NULL);
	rulesconf_policy_print_warnings(c, pol, stderr, "port53guard check-config: warning: ");
	config_dump(c, stdout);
	if (pol)
		print_policy_summary(pol);
	rulesconf_policy_free(pol);
	config_free(c);
	return EXIT_OK;
}
