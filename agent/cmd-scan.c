/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "config.h"
#include "listeners.h"
#include "log.h"

#define SCAN_COLUMNS 8

/* What the verdict is made of: only the own namespace's public listeners
 * are offered to the network directly; the others sit behind whatever
 * publishes ports into their namespace. */
struct scan_counts {
	size_t public, public_udp, public_tcp;
	size_t other_ns_reachable;
	size_t ns_failed;
	int ns_error;
	size_t owners_denied;   /* owners not found while some fds were unreadable */
};

static struct scan_counts scan_count(const struct listener_set *s)
{
	struct scan_counts c = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->items[i];

		c.owners_denied += l->owner.status == PROCMAP_DENIED;
		if (!l->netns->self) {
			c.other_ns_reachable += l->exposure != LISTENER_LOCAL;
		} else if (l->exposure == LISTENER_PUBLIC) {
			c.public++;
			c.public_udp += l->proto == IPPROTO_UDP;
			c.public_tcp += l->proto == IPPROTO_TCP;
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

static char *verdict_text(const struct scan_counts *c)
{
	const char *what;
	char *s;

	if (c->public == 0)
		return strdup("nothing public listens on port 53");
	if (c->public_udp && c->public_tcp)
		what = "UDP:53 and TCP:53 are";
	else
		what = c->public_udp ? "UDP:53 is" : "TCP:53 is";
	if (asprintf(&s, "%zu public listener%s on port 53: %s offered to the network", c->public,
		     c->public == 1 ? "" : "s", what) < 0)
		return NULL;
	return s;
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

/* An escaped string from another process, or null. */
static json_t *json_esc(const char *s)
{
	json_t *j;
	char *e;

	if (!s)
		return json_null();
	e = esc(s);
	if (!e)
		return NULL;
	j = json_string(e);
	free(e);
	return j;
}

static json_t *json_netns(const struct listener_netns *ns)
{
	return json_pack("{s:I, s:o, s:b}", "inode", (json_int_t)ns->inode,
			 "name", json_esc(ns->name), "own", ns->self);
}

static const char *owner_status_text(enum procmap_status st)
{
	switch (st) {
	case PROCMAP_FOUND:
		return "found";
	case PROCMAP_DENIED:
		return "permission";
	case PROCMAP_UNKNOWN:
		break;
	}
	return "unknown";
}

static json_t *json_owner(const struct procmap_owner *o)
{
	json_t *pid = o->status == PROCMAP_FOUND ? json_integer(o->pid) : json_null();

	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "status", owner_status_text(o->status), "pid", pid,
			 "comm", json_esc(o->comm), "exe", json_esc(o->exe),
			 "unit", json_esc(o->unit), "user_unit", json_esc(o->user_unit),
			 "container", json_esc(o->container));
}

static json_t *json_listener(const struct listener *l)
{
	char a[INET6_ADDRSTRLEN];
	char *text = exposure_text(l);
	json_t *j;

	if (!text)
		return NULL;
	listener_addr_to_string(l, a, sizeof(a));
	j = json_pack("{s:s, s:s, s:s, s:i, s:o, s:b, s:o, s:I, s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:o}",
		      "proto", listener_proto_to_string(l->proto),
		      "family", l->family == AF_INET ? "ipv4" : "ipv6",
		      "address", a, "port", (int)l->port,
		      "v6only", l->v6only < 0 ? json_null() : json_boolean(l->v6only),
		      "ipv4_too", listener_dual_stack(l),
		      "device", l->ifname[0] ? json_esc(l->ifname) : json_null(),
		      "ifindex", (json_int_t)l->ifindex,
		      "exposure", listener_exposure_to_string(l->exposure),
		      "exposure_text", text,
		      "via", l->via[0] ? json_esc(l->via) : json_null(),
		      "netns", json_netns(l->netns),
		      "inode", (json_int_t)l->inode, "uid", (json_int_t)l->uid,
		      "cgroup_id", l->has_cgroup_id ? json_integer((json_int_t)l->cgroup_id) : json_null(),
		      "owner", json_owner(&l->owner));
	free(text);
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

static int print_json(const struct listener_set *s, const struct scan_counts *c, const char *verdict)
{
	json_t *root, *list = json_array();
	int r = 0;

	for (size_t i = 0; list && i < s->n; i++)
		if (json_array_append_new(list, json_listener(&s->items[i]))) {
			json_decref(list);
			list = NULL;
		}
	root = json_pack("{s:i, s:i, s:b, s:b, s:o, s:o, s:I, s:I, s:s}",
			 "version", 1, "port", 53, "namespaces_walked", s->namespaces_walked,
			 "owners_complete", c->owners_denied == 0, "listeners", list,
			 "namespaces", json_namespaces(s), "public", (json_int_t)c->public,
			 "public_in_other_namespaces", (json_int_t)c->other_ns_reachable,
			 "verdict", verdict);
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

static int scan_report(const struct listener_set *s, bool json)
{
	struct scan_counts c = scan_count(s);
	char *verdict = verdict_text(&c);
	size_t unfiltered = 0;
	int r;

	if (!verdict)
		return -ENOMEM;
	warn_incomplete(s, &c);
	if (json) {
		r = print_json(s, &c, verdict);
	} else {
		r = s->n ? print_table(s) : 0;
		if (r >= 0 && c.other_ns_reachable)
			printf("note: %zu listener%s in other network namespaces %s not only on "
			       "loopback there: reachable only through published ports or routing "
			       "into those namespaces\n", c.other_ns_reachable,
			       c.other_ns_reachable == 1 ? "" : "s", c.other_ns_reachable == 1 ? "is" : "are");
		if (r >= 0)
			printf("verdict: %s\n", verdict);
	}
	free(verdict);
	if (r < 0)
		return r;
	/* Public behind a link of its own: the host's rule cannot reach it. */
	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->items[i];
		char addr[INET6_ADDRSTRLEN], *ns = l->unfiltered ? netns_label(l->netns) : NULL;
		char *via = l->unfiltered ? esc(l->via) : NULL;

		unfiltered += l->unfiltered;
		if (ns && via && !json)
			printf("unfiltered: %s %s:%u in namespace %s has a link of its own (%s): the host's rule "
			       "cannot refuse what reaches it\n", listener_proto_to_string(l->proto),
			       listener_addr_to_string(l, addr, sizeof(addr)), l->port, ns, via);
		free(ns);
		free(via);
	}
	return c.public || unfiltered ? EXIT_ATTENTION : EXIT_OK;
}

static const struct cli_option scan_options[] = {
	{ { "json", no_argument, NULL, 'j' }, "  -j, --json         a stable machine format (version 1)" },
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
	config_free(cfg);
	r = listeners_scan(&opts, &s);
	if (r < 0) {
		fprintf(stderr, "port53guard scan: cannot list sockets: %s\n", strerror(-r));
		return EXIT_ERROR;
	}
	r = scan_report(s, json);
	listener_set_free(s);
	if (r < 0) {
		fprintf(stderr, "port53guard scan: cannot write the report: %s\n", strerror(-r));
		return EXIT_ERROR;
	}
	return r;
}
