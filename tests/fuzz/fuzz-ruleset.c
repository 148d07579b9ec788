/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the path from configuration text to the table the
 * kernel gets: config_parse_text() -> config_validate() -> rulesconf_build()
 * -> ruleset_format_nft(). The agent and `apply` both walk it, so whatever
 * an operator writes must either be refused with a printable reason or give
 * a table that keeps these promises:
 *
 *   - the nft script is written without error, holds no control byte but
 *     newlines and tabs, and has exactly the lines its parts call for (no
 *     interface name or comment can add a line of its own);
 *   - each allow set is sorted, disjoint and never adjacent, and covers
 *     exactly the addresses the allowlist names, checked at every prefix's
 *     edges and one address beyond them;
 *   - its elements, read back from the script, are exactly those ranges;
 *   - the internal set holds exactly the interfaces of a fixed host that
 *     internal_interfaces selects (auto: the classified ones; none; or the
 *     names matching the list), never loopback or a name nft cannot quote;
 *   - the base chain jumps to the dns chain for UDP:53 (and TCP:53), and
 *     the dns chain is loopback, not-local, the internal set, the exempt
 *     interfaces in order, the allow-set accepts, then the refuse for UDP
 *     (and TCP), written as nft would.
 *
 * Seeds: tests/fuzz/corpus/ruleset (the configuration corpus and a few
 * allowlists with overlapping, touching and nested prefixes). A policy_file
 * is dropped before building: reading it is file I/O, and its parser has
 * its own target.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "config.h"
#include "links.h"
#include "listeners.h"
#include "rulesconf.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fail(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* The allowlist check compares every prefix with every other: quadratic,
 * so very long lists are checked at their edges only up to this many. */
#define MAX_EDGE_CHECKS 512

static void check_printable(const char *what, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fail("control byte 0x%02x in %s: %s", *p, what, s);
}

/* ---- addresses as big-endian integers of 4 or 16 bytes ---- */

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int acmp(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, len);
}

/* a + delta (+1 or -1); false when it wraps around the address space. */
static bool astep(const uint8_t *a, int delta, uint8_t *out, size_t len)
{
	size_t i = len;

	memcpy(out, a, len);
	while (i > 0) {
		i--;
		if (delta > 0 && ++out[i] != 0)
			return true;
		if (delta < 0 && out[i]-- != 0)
			return true;
	}
	return false;
}

static void prefix_bounds(const struct cidr *c, uint8_t *lo, uint8_t *hi)
{
	size_t len = alen(c->family);

	for (size_t i = 0; i < len; i++) {
		unsigned bits = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);

		lo[i] = c->addr[i] & mask;
		hi[i] = (uint8_t)(c->addr[i] | (uint8_t)~mask);
	}
}

static bool in_allowlist(const struct config *c, int family, const uint8_t *a)
{
	for (size_t i = 0; i < c->n_allow; i++)
		if (c->allow[i].family == family && cidr_contains(&c->allow[i], family, a))
			return true;
	return false;
}

static bool in_set(const struct ruleset_set *s, const uint8_t *a)
{
	size_t len = alen(s->family);

	for (size_t i = 0; i < s->n_ranges; i++)
		if (acmp(s->ranges[i].start, a, len) <= 0 && acmp(a, s->ranges[i].end, len) <= 0)
			return true;
	return false;
}

static void check_point(const struct config *c, const struct ruleset_set *s, const uint8_t *a)
{
	char t[INET6_ADDRSTRLEN];

	if (in_allowlist(c, s->family, a) != in_set(s, a))
		fail("%s: %s is %s the allowlist but %s the set", s->name,
		     inet_ntop(s->family, a, t, sizeof(t)), in_allowlist(c, s->family, a) ? "in" : "not in",
		     in_set(s, a) ? "in" : "not in");
}

static void check_set(const struct config *c, const struct ruleset_set *s, int family, const char *name)
{
	size_t len = alen(family), checked = 0;
	uint8_t succ[16], lo[16], hi[16], p[16];
	static const uint8_t zero[16];

	if (s->family != family || strcmp(s->name, name) != 0)
		fail("set %s has the wrong name or family", name);
	if (s->n_ranges && !s->ranges)
		abort();
	for (size_t i = 0; i < s->n_ranges; i++) {
		const struct ruleset_range *r = &s->ranges[i];

		if (family == AF_INET && (memcmp(r->start + 4, zero, 12) || memcmp(r->end + 4, zero, 12)))
			fail("%s: IPv4 range %zu has bytes past the address", name, i);
		if (acmp(r->start, r->end, len) > 0)
			fail("%s: range %zu ends before it starts", name, i);
		if (i == 0)
			continue;
		/* Sorted, disjoint and with a gap: the previous end + 1 < start. */
		if (!astep(s->ranges[i - 1].end, +1, succ, len) || acmp(succ, r->start, len) >= 0)
			fail("%s: ranges %zu and %zu overlap, touch or are out of order", name, i - 1, i);
	}
	/* Same addresses as the allowlist, probed at every edge. */
	for (size_t i = 0; i < c->n_allow && checked < MAX_EDGE_CHECKS; i++) {
		if (c->allow[i].family != family)
			continue;
		checked++;
		prefix_bounds(&c->allow[i], lo, hi);
		check_point(c, s, lo);
		check_point(c, s, hi);
		if (astep(lo, -1, p, len))
			check_point(c, s, p);
		if (astep(hi, +1, p, len))
			check_point(c, s, p);
	}
	for (size_t i = 0; i < s->n_ranges && i < MAX_EDGE_CHECKS; i++) {
		check_point(c, s, s->ranges[i].start);
		check_point(c, s, s->ranges[i].end);
		if (astep(s->ranges[i].start, -1, p, len))
			check_point(c, s, p);
		if (astep(s->ranges[i].end, +1, p, len))
			check_point(c, s, p);
	}
}

/* ---- the script, line by line ---- */

struct lines {
	char **v;
	size_t n;
};

static void split_lines(char *text, size_t len, struct lines *l)
{
	size_t n = 0;

	if (len == 0 || text[len - 1] != '\n')
		fail("script does not end in a newline");
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	l->v = calloc(n, sizeof(*l->v));
	if (!l->v)
		abort();
	l->n = 0;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));

		*nl = '\0';
		l->v[l->n++] = p;
		p = nl + 1;
	}
}

/* One element as nft reads it: "A", "A/N" or "A-B". */
static void parse_element(int family, const char *s, struct ruleset_range *r)
{
	char buf[RULESET_RANGE_STRLEN];
	char *dash, *slash;
	struct cidr c = { .family = family };
	size_t len = alen(family);

	memset(r, 0, sizeof(*r));
	if (strlen(s) >= sizeof(buf))
		fail("element too long: %s", s);
	strcpy(buf, s);
	dash = strchr(buf, '-');
	slash = strchr(buf, '/');
	if (dash) {
		*dash = '\0';
		if (inet_pton(family, buf, r->start) != 1 || inet_pton(family, dash + 1, r->end) != 1)
			fail("element range does not parse: %s", s);
		return;
	}
	c.prefix = (uint8_t)(len * 8);
	if (slash) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);

		*slash = '\0';
		if (*end || p > len * 8)
			fail("element prefix does not parse: %s", s);
		c.prefix = (uint8_t)p;
	}
	if (inet_pton(family, buf, c.addr) != 1)
		fail("element address does not parse: %s", s);
	prefix_bounds(&c, r->start, r->end);
	if (memcmp(r->start, c.addr, len) != 0)
		fail("element has host bits set: %s", s);
}

/* "\tset NAME {", type, flags, [elements = {, one per line, }], "\t}", "". */
static size_t check_set_text(const struct lines *l, size_t i, const struct ruleset_set *s)
{
	char want[64];
	size_t len = alen(s->family);

	snprintf(want, sizeof(want), "\tset %s {", s->name);
	if (i + 5 > l->n || strcmp(l->v[i], want) != 0 ||
	    strcmp(l->v[i + 1], s->family == AF_INET ? "\t\ttype ipv4_addr" : "\t\ttype ipv6_addr") != 0 ||
	    strcmp(l->v[i + 2], "\t\tflags interval") != 0)
		fail("set %s header is not as expected", s->name);
	i += 3;
	if (s->n_ranges) {
		if (i + s->n_ranges + 2 > l->n || strcmp(l->v[i], "\t\telements = {") != 0)
			fail("set %s: no elements block", s->name);
		i++;
		for (size_t k = 0; k < s->n_ranges; k++, i++) {
			const char *e = l->v[i];
			size_t elen = strlen(e);
			char item[RULESET_RANGE_STRLEN + 1];
			struct ruleset_range r;
			bool last = k + 1 == s->n_ranges;

			if (elen < 4 || strncmp(e, "\t\t\t", 3) != 0 || (!last && e[elen - 1] != ',') ||
			    (last && e[elen - 1] == ',') || elen - 3 > sizeof(item) - 1)
				fail("set %s: element line %zu malformed: %s", s->name, k, e);
			snprintf(item, sizeof(item), "%.*s", (int)(elen - 3 - (last ? 0 : 1)), e + 3);
			parse_element(s->family, item, &r);
			if (memcmp(r.start, s->ranges[k].start, len) || memcmp(r.end, s->ranges[k].end, len))
				fail("set %s: element %zu \"%s\" is not the range it stands for", s->name, k, item);
		}
		if (strcmp(l->v[i], "\t\t}") != 0)
			fail("set %s: elements block not closed", s->name);
		i++;
	}
	if (i + 2 > l->n || strcmp(l->v[i], "\t}") != 0 || strcmp(l->v[i + 1], "") != 0)
		fail("set %s not closed", s->name);
	return i + 2;
}

/* A host for the internal set: what auto picks is marked. */
static const struct {
	struct listeners_iface i;
	bool internal;
} host[] = {
	{ { 1, 0, "lo", "", true }, false },
	{ { 2, 0, "eth0", "", false }, false },
	{ { 3, 0, "docker0", "bridge", false }, true },
	{ { 4, 3, "veth0", "veth", false }, true },
	{ { 5, 0, "br-lan", "bridge", false }, false },
	{ { 6, 5, "eth1", "", false }, false },
	{ { 7, 0, "wg0", "wireguard", false }, true },
	{ { 8, 0, "mv0", "macvlan", false }, false },
	{ { 9, 0, "veth\"q", "veth", false }, false },      /* nft cannot quote it: left out */
	{ { 10, 0, "vethx", "veth", false }, true },
};
#define N_HOST (sizeof(host) / sizeof(host[0]))

static bool listed(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_internal_interfaces; i++)
		if (links_name_matches(c->internal_interfaces[i], name))
			return true;
	return false;
}

static void fill_internal(const struct config *c, struct ruleset *rs)
{
	struct listeners_iface ifaces[N_HOST];
	struct listeners_iftable t = { .ifaces = ifaces, .n_ifaces = N_HOST };
	char err[256] = "";
	size_t n = 0;
	int r;

	for (size_t i = 0; i < N_HOST; i++)
		ifaces[i] = host[i].i;
	r = rulesconf_set_internal(c, &t, rs, err, sizeof(err));
	if (r < 0)
		fail("rulesconf_set_internal: %d %s", r, err);
	for (size_t i = 0; i < N_HOST; i++) {
		const char *name = host[i].i.name;
		bool want = false, in = false;

		if (c->internal_mode == CONFIG_INTERNAL_AUTO)
			want = host[i].internal;
		else if (c->internal_mode == CONFIG_INTERNAL_LIST)
			want = !host[i].i.loopback && !strchr(name, '"') && listed(c, name);
		for (size_t k = 0; k < rs->n_internal; k++)
			in |= strcmp(rs->internal[k], name) == 0;
		if (in != want)
			fail("interface %s: in set internal %d, expected %d", name, in, want);
		n += want;
	}
	if (n != rs->n_internal)
		fail("set internal holds %zu names, expected %zu", rs->n_internal, n);
}

/* "\tset internal {", type, [elements = {, one per line, }], "\t}", "". */
static size_t check_internal_text(const struct lines *l, size_t i, const struct ruleset *rs)
{
	char want[64];

	if (i + 4 > l->n || strcmp(l->v[i], "\tset internal {") != 0 ||
	    strcmp(l->v[i + 1], "\t\ttype ifname") != 0)
		fail("set internal header is not as expected");
	i += 2;
	if (rs->n_internal) {
		if (i + rs->n_internal + 2 > l->n || strcmp(l->v[i], "\t\telements = {") != 0)
			fail("set internal: no elements block");
		i++;
		for (size_t k = 0; k < rs->n_internal; k++, i++) {
			snprintf(want, sizeof(want), "\t\t\t\"%s\"%s", rs->internal[k],
				 k + 1 < rs->n_internal ? "," : "");
			if (strcmp(l->v[i], want) != 0)
				fail("set internal: element line %zu is \"%s\"", k, l->v[i]);
		}
		if (strcmp(l->v[i], "\t\t}") != 0)
			fail("set internal: elements block not closed");
		i++;
	}
	if (i + 2 > l->n || strcmp(l->v[i], "\t}") != 0 || strcmp(l->v[i + 1], "") != 0)
		fail("set internal not closed");
	return i + 2;
}

/* The rule lines the configuration calls for, built here independently. */
static char **expected_rules(const struct config *c, const struct ruleset *rs, size_t *ret_n)
{
	bool tcp = (c->protocols & CONFIG_PROTO_TCP) != 0;
	size_t cap = c->n_exempt_interfaces + 10, n = 0;
	char **v = calloc(cap, sizeof(*v));
	char *s;

	if (!v)
		abort();
#define ADD(...) do { if (asprintf(&s, __VA_ARGS__) < 0) abort(); v[n++] = s; } while (0)
	ADD("\t\tiif \"lo\" accept comment \"loopback is never filtered (local resolvers such as 127.0.0.53 keep working)\"");
	ADD("\t\tfib daddr type != local accept comment \"%s\"", RULESET_COMMENT_NOT_LOCAL);
	ADD("\t\tiifname @internal accept comment \"%s\"", RULESET_COMMENT_INTERNAL);
	for (size_t i = 0; i < c->n_exempt_interfaces; i++)
		ADD("\t\tiifname \"%s\" accept comment \"exempt interface %s\"", c->exempt_interfaces[i],
		    c->exempt_interfaces[i]);
	for (int p = 0; p < (tcp ? 2 : 1); p++) {
		const char *proto = p ? "tcp" : "udp", *PROTO = p ? "TCP" : "UDP";

		if (rs->sets[RULESET_SET_ALLOW4].n_ranges)
			ADD("\t\tmeta l4proto %s ip saddr @allow4 counter accept comment \"%s:53 from the IPv4 allowlist: "
			    "accept (mirrors an allow rule above the refuse)\"", proto, PROTO);
		if (rs->sets[RULESET_SET_ALLOW6].n_ranges)
			ADD("\t\tmeta l4proto %s ip6 saddr @allow6 counter accept comment \"%s:53 from the IPv6 allowlist: "
			    "accept (mirrors an allow rule above the refuse)\"", proto, PROTO);
	}
	ADD("\t\tmeta l4proto udp counter drop comment \"%s\"", RULESET_COMMENT_REFUSE_UDP);
	if (tcp)
		ADD("\t\tmeta l4proto tcp counter drop comment \"%s\"", RULESET_COMMENT_REFUSE_TCP);
#undef ADD
	*ret_n = n;
	return v;
}

static void check_script(const struct config *c, const struct ruleset *rs, char *text, size_t len)
{
	static const char *const head[] = {
		"#!/usr/sbin/nft -f", NULL, "table inet " RULESET_TABLE, "delete table inet " RULESET_TABLE,
		"table inet " RULESET_TABLE " {",
	};
	struct lines l;
	size_t i = 0, n_want;
	char **want;

	if (strlen(text) != len)
		fail("NUL byte in the script");
	for (size_t k = 0; k < len; k++)
		if (((unsigned char)text[k] < 0x20 && text[k] != '\n' && text[k] != '\t') || text[k] == 0x7f)
			fail("control byte 0x%02x in the script at %zu", (unsigned char)text[k], k);
	split_lines(text, len, &l);
	for (; i < sizeof(head) / sizeof(head[0]); i++)
		if (i >= l.n || (head[i] && strcmp(l.v[i], head[i]) != 0))
			fail("script header line %zu differs", i);
	i = check_set_text(&l, i, &rs->sets[RULESET_SET_ALLOW4]);
	i = check_set_text(&l, i, &rs->sets[RULESET_SET_ALLOW6]);
	i = check_internal_text(&l, i, rs);
	if (i + 2 > l.n || strcmp(l.v[i], "\tchain " RULESET_CHAIN " {") != 0 ||
	    strcmp(l.v[i + 1], "\t\ttype filter hook prerouting priority -300; policy accept;") != 0)
		fail("chain header differs");
	i += 2;
	if (i >= l.n || strcmp(l.v[i], "\t\tudp dport 53 jump dns comment \"" RULESET_COMMENT_JUMP_UDP "\"") != 0)
		fail("the UDP jump differs");
	i++;
	if (c->protocols & CONFIG_PROTO_TCP) {
		if (i >= l.n || strcmp(l.v[i], "\t\ttcp dport 53 jump dns comment \"" RULESET_COMMENT_JUMP_TCP "\"") != 0)
			fail("the TCP jump differs");
		i++;
	}
	if (i + 3 > l.n || strcmp(l.v[i], "\t}") != 0 || strcmp(l.v[i + 1], "") != 0 ||
	    strcmp(l.v[i + 2], "\tchain " RULESET_CHAIN_DNS " {") != 0)
		fail("chain dns does not follow the base chain");
	i += 3;
	want = expected_rules(c, rs, &n_want);
	if (rs->n_rules != n_want)
		fail("%zu rules, the configuration calls for %zu", rs->n_rules, n_want);
	for (size_t k = 0; k < n_want; k++, i++) {
		if (i >= l.n || strcmp(l.v[i], want[k]) != 0)
			fail("rule %zu is \"%s\", expected \"%s\"", k, i < l.n ? l.v[i] : "(none)", want[k]);
		free(want[k]);
	}
	free(want);
	if (i + 2 != l.n || strcmp(l.v[i], "\t}") != 0 || strcmp(l.v[i + 1], "}") != 0)
		fail("script does not end with the chain and table closed (%zu lines, at %zu)", l.n, i);
	free(l.v);
}

static void check_ruleset(const struct config *c, const struct ruleset *rs)
{
	unsigned want = RULESET_PROTO_UDP | ((c->protocols & CONFIG_PROTO_TCP) ? RULESET_PROTO_TCP : 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (rs->protos != want)
		fail("refused protocols 0x%x, configuration says 0x%x", rs->protos, want);
	check_set(c, &rs->sets[RULESET_SET_ALLOW4], AF_INET, "allow4");
	check_set(c, &rs->sets[RULESET_SET_ALLOW6], AF_INET6, "allow6");
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	r = ruleset_format_nft(rs, f);
	if (fclose(f) != 0 || r != 0)
		fail("ruleset_format_nft failed: %d", r);
	check_script(c, rs, text, len);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = config_new();
	struct config_error err;
	struct ruleset *rs = NULL;
	char errbuf[256] = "";
	int r;

	if (!c)
		return 0;
	if (config_parse_text(c, "fuzz.conf", (const char *)data, size, &err) < 0 ||
	    config_validate(c, &err) < 0) {
		config_free(c);
		return 0;
	}
	/* A policy_file would be read from disk: the cloud policy parser has
	 * its own target (fuzz-policy); this one stays pure. */
	free(c->policy_file);
	c->policy_file = NULL;
	r = rulesconf_build(c, &rs, errbuf, sizeof(errbuf));
	if (r < 0) {
		/* Refused: with a reason fit for one log line, and nothing built. */
		if (r != -EINVAL && r != -ENOMEM)
			fail("rulesconf_build returned %d", r);
		if (r == -EINVAL && !errbuf[0])
			fail("rulesconf_build refused without a reason");
		check_printable("rulesconf_build error", errbuf);
		if (rs)
			fail("rulesconf_build set its result on failure");
	} else {
		if (!rs)
			fail("rulesconf_build succeeded without a ruleset");
		fill_internal(c, rs);
		check_ruleset(c, rs);
		ruleset_free(rs);
	}
	config_free(c);
	return 0;
}
