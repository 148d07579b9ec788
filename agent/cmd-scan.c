/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "listeners.h"
#include "log.h"
#include "nft.h"
#include "report.h"
#include "routes.h"
#include "ruleset.h"
#include "verdict.h"

#define SCAN_COLUMNS 8

/* What the live table refuses: read from the kernel, not from the
 * configuration, so scan tells what is true now. */
struct scan_rules {
	bool known;                     /* the table could be read (or is missing) */
	int error;                      /* why not, when !known */
	bool table;
	bool refuse[2];                 /* [0] UDP:53, [1] TCP:53 refuse rule present */
	char *const *exempt;            /* configured exempt interfaces */
	size_t n_exempt;
};

/* Refuse rules are found by their comments, wherever the table's layout
 * puts them, as the agent's counters are. */
static void rules_read(struct scan_rules *sr)
{
	struct nft_handle *h = NULL;
	struct nft_live *live = NULL;
	char err[256];
	int r;

	r = nft_open(&h);
	if (r == 0)
		r = nft_read(h, &live, err, sizeof(err));
	nft_close(h);
	if (r == -ENOENT) {
		sr->known = true;
		return;
	}
	if (r < 0) {
		sr->error = r;
		return;
	}
	sr->known = sr->table = true;
	sr->refuse[0] = nft_live_find_rule(live, RULESET_COMMENT_REFUSE_UDP) != NULL;
	sr->refuse[1] = nft_live_find_rule(live, RULESET_COMMENT_REFUSE_TCP) != NULL;
	nft_live_free(live);
}

static bool exempt_iface(const struct scan_rules *sr, const char *ifname)
{
	for (size_t i = 0; ifname[0] && i < sr->n_exempt; i++)
		if (verdict_ifname_matches(sr->exempt[i], ifname))
			return true;
	return false;
}

/* Whether inbound port-53 packets of proto (0 UDP, 1 TCP) from outside to
 * this socket meet the refuse: not when it is only local, bound to (or to
 * an address of) an exempt interface, or out of the host hook's reach. */
static bool listener_refused(const struct scan_rules *sr, const struct listener *l, int proto)
{
	if (!sr->table || !sr->refuse[proto])
		return false;
	if (l->exposure == LISTENER_LOCAL || l->unfiltered)
		return false;
	return !exempt_iface(sr, l->ifname) && !exempt_iface(sr, l->via);
}

/* What the verdict is made of: only the own namespace's public listeners
 * are offered to the network directly; the others sit behind whatever
 * publishes ports into their namespace. */
struct scan_counts {
	size_t public, public_udp, public_tcp;
	size_t open_udp, open_tcp;      /* of those, not refused by the live rules */
	size_t other_ns_reachable;
	size_t unfiltered;
	size_t ns_failed;
	int ns_error;
	size_t owners_denied;   /* owners not found while some fds were unreadable */
};

static struct scan_counts scan_count(const struct listener_set *s, const struct scan_rules *sr)
{
	struct scan_counts c = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->items[i];
		int p = l->proto == IPPROTO_TCP;

		c.owners_denied += l->owner.status == PROCMAP_DENIED;
		c.unfiltered += l->unfiltered;
		if (!l->netns->self) {
			c.other_ns_reachable += l->exposure != LISTENER_LOCAL;
		} else if (l->exposure == LISTENER_PUBLIC) {
			c.public++;
			c.public_udp += !p;
			c.public_tcp += p;
			c.open_udp += !p && !listener_refused(sr, l, 0);
			c.open_tcp += p && !listener_refused(sr, l, 1);
		}
	}
	for (size_t i = 0; i < s->n_netns; i++) {
		/* A namespace whose last process left during the walk is gone, not hidden. */
		int e = s->netns[i].error;

		if (e && e != -ENOENT && e != -ESTALE) {
			c.ns_failed++;
			c.ns_error = e;
		}
	}
	return c;
}

/* "UDP:53 and TCP:53 are offered to the network" while no rule refuses
 * them, else per protocol: "refused by port53guard for UDP; TCP:53 open". */
static char *verdict_text(const struct scan_counts *c)
{
	const char *what;
	char *s, parts[128] = "";
	size_t open = c->open_udp + c->open_tcp;
	int r;

	if (c->public == 0)
		return strdup("nothing public listens on port 53");
	if (open == c->public) {
		if (c->public_udp && c->public_tcp)
			what = "UDP:53 and TCP:53 are";
		else
			what = c->public_udp ? "UDP:53 is" : "TCP:53 is";
		r = asprintf(&s, "%zu public listener%s on port 53: %s offered to the network", c->public,
			     c->public == 1 ? "" : "s", what);
		return r < 0 ? NULL : s;
	}
	if (c->public_udp)
		snprintf(parts, sizeof(parts), "%s", c->open_udp ? "UDP:53 open" : "refused by port53guard for UDP");
	if (c->public_tcp)
		snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts), "%s%s", parts[0] ? "; " : "",
			 c->open_tcp ? "TCP:53 open" : "refused by port53guard for TCP");
	r = asprintf(&s, "%zu public listener%s on port 53: %s", c->public, c->public == 1 ? "" : "s", parts);
	return r < 0 ? NULL : s;
}

/* Everything another process or the file system chose is escaped. */
static char *esc(const char *s)
{
	return log_escape(s, strlen(s), NULL);
}

/* The namespace as users can match it: its ip-netns name, else the inode
 * as readlink /proc/PID/ns/net spells it. */
static char *netns_label(const struct listener_netns *ns)
{
	char *s;

	if (ns->name)
		return esc(ns->name);
	if (asprintf(&s, "net:[%" PRIu64 "]", ns->inode) < 0)
		return NULL;
	return s;
}

static char *exposure_text(const struct listener *l)
{
	const char *e = listener_exposure_to_string(l->exposure);
	char *ns, *s;
	int r;

	if (l->netns->self)
		return strdup(e);
	ns = netns_label(l->netns);
	if (!ns)
		return NULL;
	if (l->exposure == LISTENER_LOCAL)
		r = asprintf(&s, "%s (in namespace %s)", e, ns);
	else
		r = asprintf(&s, "%s (in namespace %s: reachable only through published ports)", e, ns);
	free(ns);
	return r < 0 ? NULL : s;
}

static char *device_text(const struct listener *l)
{
	char *s;

	if (l->ifname[0])
		return esc(l->ifname);
	if (asprintf(&s, "if%" PRIu32, l->ifindex) < 0)
		return NULL;
	return s;
}

/* "0.0.0.0", "[::]", "*" for [::] that takes IPv4 too (as ss shows it),
 * with "%dev" when bound to a device. */
static char *address_text(const struct listener *l)
{
	char a[INET6_ADDRSTRLEN], *dev = NULL, *s;
	const char *fmt = l->family == AF_INET6 ? "[%s]%s%s" : "%s%s%s";
	int r;

	if (l->ifindex && !(dev = device_text(l)))
		return NULL;
	if (listener_dual_stack(l))
		strcpy(a, "*"), fmt = "%s%s%s";
	else
		listener_addr_to_string(l, a, sizeof(a));
	r = asprintf(&s, fmt, a, dev ? "%" : "", dev ? dev : "");
	free(dev);
	return r < 0 ? NULL : s;
}

static char *owner_comm_text(const struct procmap_owner *o)
{
	if (o->status == PROCMAP_DENIED)
		return strdup("unknown (permission)");
	if (o->status != PROCMAP_FOUND)
		return strdup("unknown");
	return esc(o->comm ? o->comm : "?");
}

static char *owner_unit_text(const struct procmap_owner *o)
{
	char *s;

	if (o->user_unit)
		return esc(o->user_unit);
	if (o->unit)
		return esc(o->unit);
	if (o->container_name) {
		char *name = esc(o->container_name);

		if (name && asprintf(&s, "container:%s", name) >= 0) {
			free(name);
			return s;
		}
		free(name);
		return NULL;
	}
	if (o->container && asprintf(&s, "container:%.12s", o->container) >= 0)
		return s;
	return strdup("-");
}

static int row_fill(const struct listener *l, char **cell)
{
	const struct procmap_owner *o = &l->owner;

	cell[0] = strdup(listener_proto_to_string(l->proto));
	cell[1] = address_text(l);
	if (asprintf(&cell[2], "%u", (unsigned)l->port) < 0)
		cell[2] = NULL;
	cell[3] = exposure_text(l);
	if (o->status != PROCMAP_FOUND || asprintf(&cell[4], "%d", (int)o->pid) < 0)
		cell[4] = strdup("-");
	cell[5] = owner_comm_text(o);
	cell[6] = owner_unit_text(o);
	cell[7] = netns_label(l->netns);
	for (int c = 0; c < SCAN_COLUMNS; c++)
		if (!cell[c])
			return -ENOMEM;
	return 0;
}

static void rows_free(char **cells, size_t n)
{
	for (size_t i = 0; cells && i < n * SCAN_COLUMNS; i++)
		free(cells[i]);
	free(cells);
}

static void print_row(char *const *cell, const int *width)
{
	for (int c = 0; c < SCAN_COLUMNS; c++) {
		if (c == SCAN_COLUMNS - 1)
			printf("%s\n", cell[c]);
		else
			printf("%-*s  ", width[c], cell[c]);
	}
}

static int print_table(const struct listener_set *s)
{
	static char *const head[SCAN_COLUMNS] = {
		"PROTO", "ADDRESS", "PORT", "EXPOSURE", "PID", "COMM", "UNIT", "NAMESPACE",
	};
	int width[SCAN_COLUMNS];
	char **cells;

	cells = calloc(s->n * SCAN_COLUMNS + 1, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		if (row_fill(&s->items[i], cells + i * SCAN_COLUMNS) < 0) {
			rows_free(cells, s->n);
			return -ENOMEM;
		}
	for (int c = 0; c < SCAN_COLUMNS; c++) {
		width[c] = (int)strlen(head[c]);
		for (size_t i = 0; i < s->n; i++)
			if ((int)strlen(cells[i * SCAN_COLUMNS + c]) > width[c])
				width[c] = (int)strlen(cells[i * SCAN_COLUMNS + c]);
	}
	print_row(head, width);
	for (size_t i = 0; i < s->n; i++)
		print_row(cells + i * SCAN_COLUMNS, width);
	rows_free(cells, s->n);
	return 0;
}

/* ------------------------------------------------------------- JSON --- */

static json_t *json_listener(const struct listener *l, const struct scan_rules *sr)
{
	char *text = exposure_text(l);
	json_t *j = report_listener_json(l), *refused;

	if (!text || !j) {
		free(text);
		json_decref(j);
		return NULL;
	}
	if (sr->known)
		refused = json_pack("{s:b, s:b}", "udp", listener_refused(sr, l, 0), "tcp", listener_refused(sr, l, 1));
	else
		refused = json_pack("{s:n, s:n}", "udp", "tcp");
	json_object_set_new(j, "exposure_text", json_string(text));
	json_object_set_new(j, "refused_by_rules", refused);
	free(text);
	return j;
}

static json_t *json_netns(const struct listener_netns *ns)
{
	char *name = ns->name ? esc(ns->name) : NULL;
	json_t *j = json_pack("{s:I, s:s?, s:b}", "inode", (json_int_t)ns->inode, "name", name, "own", ns->self);

	free(name);
	return j;
}

static json_t *json_namespaces(const struct listener_set *s)
{
	json_t *a = json_array(), *e;

	for (size_t i = 0; a && i < s->n_netns; i++) {
		const struct listener_netns *ns = &s->netns[i];

		e = json_netns(ns);
		if (!e || json_object_set_new(e, "listeners", json_integer((json_int_t)ns->n_listeners)) ||
		    json_object_set_new(e, "error", ns->error ? json_string(strerror(-ns->error)) : json_null()) ||
		    json_array_append_new(a, e)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int print_json(const struct listener_set *s, const struct scan_counts *c, const struct scan_rules *sr,
		      const char *verdict, const struct verdict *v)
{
	json_t *root, *list = json_array(), *rules;
	int r = 0;

	for (size_t i = 0; list && i < s->n; i++)
		if (json_array_append_new(list, json_listener(&s->items[i], sr))) {
			json_decref(list);
			list = NULL;
		}
	if (sr->known)
		rules = json_pack("{s:b, s:b, s:b, s:n}", "table", sr->table, "refuse_udp", sr->refuse[0],
				  "refuse_tcp", sr->refuse[1], "error");
	else
		rules = json_pack("{s:n, s:n, s:n, s:s}", "table", "refuse_udp", "refuse_tcp", "error",
				  strerror(-sr->error));
	root = json_pack("{s:i, s:i, s:i, s:b, s:b, s:o, s:o, s:o, s:I, s:I, s:I, s:s, s:o}",
			 "schema_version", REPORT_SCHEMA_VERSION, "version", REPORT_SCHEMA_VERSION, "port", 53,
			 "namespaces_walked", s->namespaces_walked,
			 "owners_complete", c->owners_denied == 0, "rules", rules, "listeners", list,
			 "namespaces", json_namespaces(s), "public", (json_int_t)c->public,
			 "public_open", (json_int_t)(c->open_udp + c->open_tcp),
			 "public_in_other_namespaces", (json_int_t)c->other_ns_reachable,
			 "verdict", verdict, "compliance", verdict_to_json(v));
	if (!root || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		r = -ENOMEM;
	else
		putchar('\n');
	json_decref(root);
	return r;
}

/* ------------------------------------------------------------ command --- */

/* Once each, at the boundary: what the scan could not see. */
static void warn_incomplete(const struct listener_set *s, const struct scan_counts *c)
{
	if (c->owners_denied)
		fprintf(stderr, "port53guard scan: warning: cannot read other processes' file "
			"descriptors (needs root): %zu owner%s shown as \"unknown (permission)\"\n",
			c->owners_denied, c->owners_denied == 1 ? "" : "s");
	if (s->netns_denied)
		fprintf(stderr, "port53guard scan: warning: cannot see the network namespace of "
			"%zu process%s: listeners in it may be missing\n",
			s->netns_denied, s->netns_denied == 1 ? "" : "es");
	if (c->ns_failed)
		fprintf(stderr, "port53guard scan: warning: %zu network namespace%s not inspected: %s\n",
			c->ns_failed, c->ns_failed == 1 ? "" : "s", strerror(-c->ns_error));
}

/* The one verdict, from what a scan can know: the configuration, the live
 * table, the listeners and the routes; the agent's own facts (capture,
 * recursion seen, fallback) are the status command's. */
static void scan_verdict(const struct config *cfg, const struct listener_set *s, const struct scan_rules *sr,
			 struct verdict *ret)
{
	struct verdict_inputs in = {
		.now = time(NULL),
		.mode = cfg->mode,
		.should_enforce = cfg->mode == AGENT_MODE_ENFORCE,
		.enforcing = sr->table && sr->refuse[0],
		/* What the live table refuses; without one, what the file asks. */
		.protocols = sr->table ? CONFIG_PROTO_UDP | (sr->refuse[1] ? CONFIG_PROTO_TCP : 0) : cfg->protocols,
		.allow = cfg->allow,
		.n_allow = cfg->n_allow,
		.exempt = cfg->exempt_interfaces,
		.n_exempt = cfg->n_exempt_interfaces,
	};
	char **uplinks = NULL;
	size_t n_uplinks = 0;

	if (routes_default_ifaces(&uplinks, &n_uplinks) == 0) {
		in.uplinks = uplinks;
		in.n_uplinks = n_uplinks;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->items[i];

		in.tcp53_public += l->netns->self && l->exposure == LISTENER_PUBLIC && l->proto == IPPROTO_TCP;
		in.listeners_unfiltered += l->unfiltered;
	}
	/* Without a readable table nothing can be said about the rules. */
	if (!sr->known)
		in.should_enforce = false;
	verdict_compute(&in, NULL, ret);
	routes_free(uplinks);
}

static int scan_report(const struct config *cfg, const struct listener_set *s, bool json)
{
	struct scan_rules sr = { .exempt = cfg->exempt_interfaces, .n_exempt = cfg->n_exempt_interfaces };
	struct scan_counts c;
	struct verdict v;
	char *verdict, codes[512];
	int r;

	rules_read(&sr);
	c = scan_count(s, &sr);
	verdict = verdict_text(&c);
	if (!verdict)
		return -ENOMEM;
	scan_verdict(cfg, s, &sr, &v);
	warn_incomplete(s, &c);
	if (!sr.known)
		fprintf(stderr, "port53guard scan: warning: cannot read the table inet " RULESET_TABLE
			": %s: whether the rules refuse these listeners is unknown\n", strerror(-sr.error));
	if (json) {
		r = print_json(s, &c, &sr, verdict, &v);
	} else {
		r = s->n ? print_table(s) : 0;
		if (r >= 0 && c.other_ns_reachable)
			printf("note: %zu listener%s in other network namespaces %s not only on "
			       "loopback there: reachable only through published ports or routing "
			       "into those namespaces\n", c.other_ns_reachable,
			       c.other_ns_reachable == 1 ? "" : "s", c.other_ns_reachable == 1 ? "is" : "are");
		if (r >= 0) {
			printf("rules: %s\n", !sr.known ? "unknown (the table cannot be read)"
			       : !sr.table ? "no table inet " RULESET_TABLE
			       : sr.refuse[1] ? "UDP:53 and TCP:53 refused" : sr.refuse[0] ? "UDP:53 refused" : "no refuse rule");
			printf("compliance: %s%s%s%s\n", verdict_state_name(v.state), v.state ? " (" : "",
			       verdict_codes_text(&v, codes, sizeof(codes)), v.state ? ")" : "");
			printf("verdict: %s\n", verdict);
		}
	}
	free(verdict);
	if (r < 0)
		return r;
	/* Public behind a link of its own: the host's rule cannot reach it. */
	for (size_t i = 0; i < s->n && !json; i++) {
		const struct listener *l = &s->items[i];
		char addr[INET6_ADDRSTRLEN], *ns, *via;

		if (!l->unfiltered)
			continue;
		ns = netns_label(l->netns);
		via = esc(l->via);
		if (ns && via)
			printf("unfiltered: %s %s:%u in namespace %s has a link of its own (%s): the host's rule "
			       "cannot refuse what reaches it\n", listener_proto_to_string(l->proto),
			       listener_addr_to_string(l, addr, sizeof(addr)), l->port, ns, via);
		free(ns);
		free(via);
	}
	return c.public || c.unfiltered ? EXIT_ATTENTION : EXIT_OK;
}

static const struct cli_option scan_options[] = {
	{ { "json", no_argument, NULL, 'j' }, "  -j, --json         a stable machine format (schema_version 2)" },
};

static int scan_parse(struct cli_ctx *ctx, int argc, char **argv, bool *json)
{
	return cli_parse(ctx, cli_find("scan"), argc, argv, scan_options, 1, cli_option_set_bool, json, 0, 0);
}

int cmd_scan(struct cli_ctx *ctx, int argc, char **argv)
{
	struct listeners_opts opts = LISTENERS_OPTS_DEFAULT;
	struct listener_set *s;
	struct config *cfg;
	bool json = false;
	int r;

	r = scan_parse(ctx, argc, argv, &json);
	if (r >= 0)
		return r;
	if (cli_load_config(ctx, &cfg) < 0)
		return EXIT_ERROR;
	opts.namespaces = cfg->namespaces;
	r = listeners_scan(&opts, &s);
	if (r < 0) {
		fprintf(stderr, "port53guard scan: cannot list sockets: %s\n", strerror(-r));
		config_free(cfg);
		return EXIT_ERROR;
	}
	r = scan_report(cfg, s, json);
	listener_set_free(s);
	config_free(cfg);
	if (r < 0) {
		fprintf(stderr, "port53guard scan: cannot write the report: %s\n", strerror(-r));
		return EXIT_ERROR;
	}
	return r;
}
