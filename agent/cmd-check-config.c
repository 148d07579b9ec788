/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "links.h"
#include "listeners.h"
#include "log.h"
#include "rulesconf.h"
#include "ruleset.h"
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

static bool listed(char *const *patterns, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (links_name_matches(patterns[i], name))
			return true;
	return false;
}

/* Why an interface is or is not in set internal, as the agent decides it. */
static bool iface_verdict(const struct config *c, const struct listeners_iftable *t,
			  const struct listeners_iface *f, const struct ruleset *rs, char *why, size_t len)
{
	bool in = false;

	for (size_t i = 0; i < rs->n_internal; i++)
		in |= strncmp(rs->internal[i], f->name, IF_NAMESIZE) == 0;
	switch (c->internal_mode) {
	case CONFIG_INTERNAL_AUTO:
		(void)listeners_iface_explain(t, f, why, len);
		if (!in && listeners_iface_virtual(t, f))
			snprintf(why + strlen(why), len - strlen(why), "; its name cannot be matched by nft");
		break;
	case CONFIG_INTERNAL_NONE:
		snprintf(why, len, "internal_interfaces = none");
		break;
	case CONFIG_INTERNAL_LIST:
		snprintf(why, len, "%s internal_interfaces",
			 f->loopback ? "loopback, never" : listed(c->internal_interfaces,
								   c->n_internal_interfaces, f->name)
			 ? "listed in" : "not listed in");
		break;
	}
	if (f->loopback)
		snprintf(why + strlen(why), len - strlen(why), "; accepted by its own rule (iif lo)");
	else if (listed(c->exempt_interfaces, c->n_exempt_interfaces, f->name))
		snprintf(why + strlen(why), len - strlen(why), "; accepted anyway: in exempt_interfaces");
	return in;
}

/* The interfaces of this namespace and what the rules make of each: the
 * same classification the agent keeps set internal with. */
static void print_interfaces(const struct config *c)
{
	struct listeners_iftable t = { 0 };
	struct ruleset_params p = { 0 };
	struct ruleset *rs = NULL;
	char why[160], err[256] = "";
	int r = listeners_iftable_dump(&t);

	if (r == 0)
		r = ruleset_new(&p, &rs, err, sizeof(err));
	if (r == 0)
		r = rulesconf_set_internal(c, &t, rs, err, sizeof(err));
	if (r < 0) {
		printf("# interfaces: cannot be listed: %s\n", err[0] ? err : strerror(-r));
		goto out;
	}
	printf("# interfaces of this network namespace (internal: DNS from it is accepted, the cloud "
	       "never sees it; outside: refused unless allowed):\n");
	for (size_t i = 0; i < t.n_ifaces; i++) {
		const struct listeners_iface *f = &t.ifaces[i];
		bool in = iface_verdict(c, &t, f, rs, why, sizeof(why));
		char *name = log_escape(f->name, strnlen(f->name, sizeof(f->name)), NULL);
		char *kind = log_escape(f->kind, strnlen(f->kind, sizeof(f->kind)), NULL);

		printf("# interface %-15s kind=%-9s %-8s %s\n", name ? name : "?",
		       kind && kind[0] ? kind : f->loopback ? "loopback" : "device",
		       f->loopback ? "local" : in ? "internal" : "outside",
		       why);
		free(name);
		free(kind);
	}
out:
	ruleset_free(rs);
	listeners_iftable_clear(&t);
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
	rulesconf_policy_print_warnings(c, pol, stderr, "port53guard check-config: warning: ");
	config_dump(c, stdout);
	if (pol)
		print_policy_summary(pol);
	print_interfaces(c);
	rulesconf_policy_free(pol);
	config_free(c);
	return EXIT_OK;
}
