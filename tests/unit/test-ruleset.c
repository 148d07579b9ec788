/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "nft.h"
#include "ruleset.h"

#define MAXN 8

static size_t parse_all(const char *const *in, struct cidr *out)
{
	size_t n = 0;

	for (; in[n]; n++)
		assert_int_equal(cidr_parse(in[n], &out[n]), 0);
	return n;
}

/* ---- merging: table driven ---------------------------------------------- */

struct merge_case {
	const char *name;
	const char *in[MAXN];
	int family;
	const char *out[MAXN];
};

static const struct merge_case merge_cases[] = {
	{ "empty", { NULL }, AF_INET, { NULL } },
	{ "one host", { "192.0.2.7" }, AF_INET, { "192.0.2.7" } },
	{ "overlap", { "10.0.0.0/8", "10.1.0.0/16" }, AF_INET, { "10.0.0.0/8" } },
	{ "containment, wide one last", { "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8" }, AF_INET,
	  { "10.0.0.0/8" } },
	{ "partial overlap of ranges", { "10.0.0.0/23", "10.0.1.0/24", "10.0.2.0/24" }, AF_INET,
	  { "10.0.0.0-10.0.2.255" } },
	{ "adjacent halves make a prefix", { "10.0.1.0/24", "10.0.0.0/24" }, AF_INET,
	  { "10.0.0.0/23" } },
	{ "adjacent, not a prefix", { "10.0.1.0/24", "10.0.2.0/24" }, AF_INET,
	  { "10.0.1.0-10.0.2.255" } },
	{ "one address apart stays apart", { "10.0.0.0", "10.0.0.2" }, AF_INET,
	  { "10.0.0.0", "10.0.0.2" } },
	{ "duplicates", { "198.51.100.0/24", "198.51.100.0/24", "198.51.100.0/24" }, AF_INET,
	  { "198.51.100.0/24" } },
	{ "sorted output", { "203.0.113.0/24", "10.0.0.0/8", "172.16.0.0/12" }, AF_INET,
	  { "10.0.0.0/8", "172.16.0.0/12", "203.0.113.0/24" } },
	{ "/0 swallows everything", { "10.0.0.0/8", "0.0.0.0/0", "255.255.255.255" }, AF_INET,
	  { "0.0.0.0/0" } },
	{ "top of the address space", { "255.255.255.255", "255.255.255.254" }, AF_INET,
	  { "255.255.255.254/31" } },
	{ "bottom of the address space", { "0.0.0.0", "0.0.0.1/32", "0.0.0.2/31" }, AF_INET,
	  { "0.0.0.0/30" } },
	{ "adjacent across the top half", { "128.0.0.0/1", "127.255.255.255" }, AF_INET,
	  { "127.255.255.255-255.255.255.255" } },
	{ "mixed families: IPv4 only", { "2001:db8::/32", "10.0.0.0/8", "::/0" }, AF_INET,
	  { "10.0.0.0/8" } },
	{ "mixed families: IPv6 only", { "2001:db8::/32", "10.0.0.0/8", "2001:db8:1::/48" },
	  AF_INET6, { "2001:db8::/32" } },
	{ "::/0", { "fd53::/16", "::/0" }, AF_INET6, { "::/0" } },
	{ "IPv6 adjacency", { "fd53:0:0:1::/64", "fd53::/64", "fd53:1::/64" }, AF_INET6,
	  { "fd53::/63", "fd53:1::/64" } },
	{ "IPv6 top", { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff::/16" }, AF_INET6,
	  { "ffff::/16" } },
	{ "IPv6 hosts one apart", { "fd53::1", "fd53::3" }, AF_INET6, { "fd53::1", "fd53::3" } },
};

static void test_merge_one(const struct merge_case *c)
{
	struct cidr in[MAXN];
	struct ruleset_range *r;
	char buf[RULESET_RANGE_STRLEN];
	size_t n = parse_all(c->in, in), m, want = 0;

	while (c->out[want])
		want++;
	assert_int_equal(ruleset_merge(in, n, c->family, &r, &m), 0);
	if (m != want)
		fail_msg("%s: %zu ranges, expected %zu", c->name, m, want);
	for (size_t i = 0; i < m; i++)
		if (strcmp(ruleset_range_format(c->family, &r[i], buf, sizeof(buf)), c->out[i]) != 0)
			fail_msg("%s: range %zu is %s, expected %s", c->name, i, buf, c->out[i]);
	free(r);
}

static void test_merge(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++)
		test_merge_one(&merge_cases[i]);
}

/* ---- merging against brute force ----------------------------------------- */

/* 10,000 random prefixes packed into a 2^20-address window, so that they
 * overlap, touch and nest a lot; every address of the window is then
 * checked: inside a merged range exactly when inside some input prefix. */
#define WINDOW_BITS 20
#define WINDOW (1u << WINDOW_BITS)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* Window offset <-> address: the offset is the last 20 bits. */
static void put_offset(uint8_t *addr, size_t len, uint32_t off)
{
	addr[len - 1] = (uint8_t)off;
	addr[len - 2] = (uint8_t)(off >> 8);
	addr[len - 3] = (uint8_t)((addr[len - 3] & 0xf0) | ((off >> 16) & 0x0f));
}

static uint32_t get_offset(const uint8_t *addr, size_t len)
{
	return addr[len - 1] | (uint32_t)addr[len - 2] << 8 | (uint32_t)(addr[len - 3] & 0x0f) << 16;
}

static void random_prefixes(int family, const char *base, struct cidr *out, size_t n)
{
	size_t len = family == AF_INET ? 4 : 16;
	unsigned bits = (unsigned)len * 8;

	for (size_t i = 0; i < n; i++) {
		/* Mostly small prefixes, a few covering up to 1/16 of the window. */
		unsigned host = rng() % 1024 == 0 ? 12 + rng() % 5 : rng() % 8;
		uint32_t off = (rng() % WINDOW) & ~((1u << host) - 1);

		out[i] = (struct cidr){ .family = family, .prefix = (uint8_t)(bits - host) };
		assert_int_equal(inet_pton(family, base, out[i].addr), 1);
		put_offset(out[i].addr, len, off);
	}
}

static void check_against_brute_force(int family, const char *base)
{
	enum { N = 10000 };
	size_t len = family == AF_INET ? 4 : 16, m;
	struct cidr *in = calloc(N, sizeof(*in));
	uint8_t *want = calloc(WINDOW, 1), *got = calloc(WINDOW, 1);
	struct ruleset_range *r;

	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	random_prefixes(family, base, in, N);
	for (size_t i = 0; i < N; i++) {
		uint32_t off = get_offset(in[i].addr, len);
		uint32_t size = 1u << (len * 8 - in[i].prefix);

		memset(want + off, 1, size);
	}
	assert_int_equal(ruleset_merge(in, N, family, &r, &m), 0);
	print_message("%s: %d prefixes merged into %zu ranges\n", base, N, m);
	assert_true(m > 1000);  /* the window is far from covered whole */
	for (size_t i = 0; i < m; i++) {
		uint32_t s = get_offset(r[i].start, len), e = get_offset(r[i].end, len);

		/* Ranges stay inside the window, sorted, with a gap between. */
		assert_memory_equal(r[i].start, r[i].end, len - 3);
		assert_true(s <= e);
		if (i > 0)
			assert_true(get_offset(r[i - 1].end, len) + 1 < s);
		memset(got + s, 1, e - s + 1);
	}
	assert_memory_equal(got, want, WINDOW);

	/* The per-packet lookup agrees with the brute force at every address
	 * of the window, and nothing just below or above it is inside. */
	struct ruleset_set set = { .family = family, .ranges = r, .n_ranges = m };
	uint8_t addr[16] = { 0 };

	assert_int_equal(inet_pton(family, base, addr), 1);
	for (uint32_t off = 0; off < WINDOW; off++) {
		put_offset(addr, len, off);
		assert_int_equal(ruleset_set_contains(&set, addr), want[off]);
	}
	addr[len - 4] ^= 0x01;
	assert_false(ruleset_set_contains(&set, addr));
	assert_false(ruleset_set_contains(&(struct ruleset_set){ .family = family }, addr));
	free(r);
	free(got);
	free(want);
	free(in);
}

static void test_merge_random(void **state)
{
	(void)state;
	check_against_brute_force(AF_INET, "10.48.0.0");
	check_against_brute_force(AF_INET6, "fd53::");
}

/* ruleset_normalize() sorts only what is not sorted yet (the read-back is,
 * the configuration seldom): the same ranges in any order, equal starts
 * and duplicates included, must give the same result. */
static int start_then_end(const void *a, const void *b)
{
	const struct ruleset_range *x = a, *y = b;
	int r = memcmp(x->start, y->start, sizeof(x->start));

	return r ? r : memcmp(x->end, y->end, sizeof(x->end));
}

static void test_normalize_orders(void **state)
{
	enum { N = 3000 };
	struct ruleset_range *base = calloc(N, sizeof(*base)), *v = calloc(N, sizeof(*v));
	struct ruleset_range *want = calloc(N, sizeof(*want));
	size_t n_want, n;

	(void)state;
	assert_non_null(base);
	assert_non_null(v);
	assert_non_null(want);
	for (size_t i = 0; i < N; i++) {
		/* 10.x.y.z starts within a /16, lengths 1 to 64: many overlap,
		 * touch, share a start or repeat (every 7th copies an earlier one). */
		uint32_t s = i % 7 == 6 ? 0 : (rng() % 65536), e = s + rng() % 64;

		if (i % 7 == 6) {
			base[i] = base[i / 2];
			continue;
		}
		base[i].start[0] = base[i].end[0] = 10;
		base[i].start[2] = (uint8_t)(s >> 8);
		base[i].start[3] = (uint8_t)s;
		e = e > 65535 ? 65535 : e;
		base[i].end[2] = (uint8_t)(e >> 8);
		base[i].end[3] = (uint8_t)e;
	}
	/* Reference: sorted by start, then by end, with qsort. */
	memcpy(want, base, N * sizeof(*want));
	qsort(want, N, sizeof(*want), start_then_end);
	n_want = ruleset_normalize(want, N, AF_INET);
	assert_true(n_want > 10 && n_want < N);
	for (int order = 0; order < 3; order++) {
		memcpy(v, base, N * sizeof(*v));
		if (order == 1) {       /* ascending already */
			qsort(v, N, sizeof(*v), start_then_end);
		} else if (order == 2) {        /* descending */
			qsort(v, N, sizeof(*v), start_then_end);
			for (size_t i = 0, j = N - 1; i < j; i++, j--) {
				struct ruleset_range t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
		}
		n = ruleset_normalize(v, N, AF_INET);
		assert_int_equal(n, n_want);
		assert_memory_equal(v, want, n * sizeof(*v));
	}
	assert_int_equal(ruleset_normalize(v, 0, AF_INET), 0);
	free(want);
	free(v);
	free(base);
}

/* ---- ranges as text ------------------------------------------------------ */

struct range_case {
	int family;
	const char *start, *end;
	const char *text;
	int prefix;             /* -1: not a prefix */
};

static const struct range_case range_cases[] = {
	{ AF_INET, "0.0.0.0", "255.255.255.255", "0.0.0.0/0", 0 },
	{ AF_INET, "10.0.0.0", "10.255.255.255", "10.0.0.0/8", 8 },
	{ AF_INET, "10.0.0.1", "10.0.0.1", "10.0.0.1", 32 },
	{ AF_INET, "10.0.0.1", "10.0.0.2", "10.0.0.1-10.0.0.2", -1 },
	{ AF_INET, "10.0.0.0", "10.0.0.2", "10.0.0.0-10.0.0.2", -1 },
	{ AF_INET, "10.0.0.2", "10.0.0.3", "10.0.0.2/31", 31 },
	{ AF_INET6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", 0 },
	{ AF_INET6, "fd53::", "fd53::ffff", "fd53::/112", 112 },
	{ AF_INET6, "fd53::1", "fd53::1", "fd53::1", 128 },
	{ AF_INET6, "fd53::1", "fd53::ffff", "fd53::1-fd53::ffff", -1 },
};

static void test_range_format(void **state)
{
	char buf[RULESET_RANGE_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		const struct range_case *c = &range_cases[i];
		struct ruleset_range r = { 0 };
		struct cidr p;

		assert_int_equal(inet_pton(c->family, c->start, r.start), 1);
		assert_int_equal(inet_pton(c->family, c->end, r.end), 1);
		assert_string_equal(ruleset_range_format(c->family, &r, buf, sizeof(buf)), c->text);
		assert_int_equal(ruleset_range_prefix(c->family, &r, &p), c->prefix >= 0);
		if (c->prefix >= 0)
			assert_int_equal(p.prefix, c->prefix);
	}
}

/* ---- the rule list ----------------------------------------------------- */

struct rules_case {
	const char *name;
	bool tcp;
	const char *allow[MAXN];
	const char *exempt[MAXN];
	const char *ingress[2 * 2];     /* the base chain: rule text, comment pairs */
	const char *rules[2 * 14];      /* the dns chain: rule text, then its comment, pairs */
};

#define LO "iif \"lo\" accept", \
	   "loopback is never filtered (local resolvers such as 127.0.0.53 keep working)"
#define NOT_LOCAL "fib daddr type != local accept", RULESET_COMMENT_NOT_LOCAL
#define INTERNAL "iifname @internal accept", RULESET_COMMENT_INTERNAL
#define HEAD LO, NOT_LOCAL, INTERNAL
#define JUMP_UDP "udp dport 53 jump dns", RULESET_COMMENT_JUMP_UDP
#define JUMP_TCP "tcp dport 53 jump dns", RULESET_COMMENT_JUMP_TCP
#define REFUSE_UDP "meta l4proto udp counter drop", RULESET_COMMENT_REFUSE_UDP
#define REFUSE_TCP "meta l4proto tcp counter drop", RULESET_COMMENT_REFUSE_TCP
#define ALLOW(p, P, ip, set, fam) \
	"meta l4proto " p " " ip " saddr @" set " counter accept", \
	P ":53 from the " fam " allowlist: accept (mirrors an allow rule above the refuse)"

static const struct rules_case rules_cases[] = {
	{ "defaults", false, { NULL }, { NULL }, { JUMP_UDP }, { HEAD, REFUSE_UDP } },
	{ "tcp on", true, { NULL }, { NULL }, { JUMP_UDP, JUMP_TCP }, { HEAD, REFUSE_UDP, REFUSE_TCP } },
	{ "IPv4 allowlist only", false, { "10.53.3.0/24" }, { NULL }, { JUMP_UDP },
	  { HEAD, ALLOW("udp", "UDP", "ip", "allow4", "IPv4"), REFUSE_UDP } },
	{ "both allowlists, tcp, exempt interfaces", true, { "fd53:3::/64", "10.53.3.2" },
	  { "eth1", "veth*" }, { JUMP_UDP, JUMP_TCP },
	  { HEAD, "iifname \"eth1\" accept", "exempt interface eth1",
	    "iifname \"veth*\" accept", "exempt interface veth*",
	    ALLOW("udp", "UDP", "ip", "allow4", "IPv4"), ALLOW("udp", "UDP", "ip6", "allow6", "IPv6"),
	    ALLOW("tcp", "TCP", "ip", "allow4", "IPv4"), ALLOW("tcp", "TCP", "ip6", "allow6", "IPv6"),
	    REFUSE_UDP, REFUSE_TCP } },
};

static void test_rules_one(const struct rules_case *c)
{
	struct cidr allow[MAXN];
	char *exempt[MAXN], buf[RULESET_RULE_STRLEN], err[128] = "";
	struct ruleset_params p = { .tcp = c->tcp, .allow = allow, .exempt = exempt };
	struct ruleset *rs;
	size_t want = 0, want_ingress = 0;

	p.n_allow = parse_all(c->allow, allow);
	while (c->exempt[p.n_exempt]) {
		exempt[p.n_exempt] = (char *)c->exempt[p.n_exempt];
		p.n_exempt++;
	}
	while (c->rules[want * 2])
		want++;
	while (want_ingress < 2 && c->ingress[want_ingress * 2])
		want_ingress++;
	assert_int_equal(ruleset_new(&p, &rs, err, sizeof(err)), 0);
	if (rs->n_ingress != want_ingress)
		fail_msg("%s: %zu ingress rules, expected %zu", c->name, rs->n_ingress, want_ingress);
	for (size_t i = 0; i < want_ingress; i++) {
		assert_string_equal(ruleset_rule_format(&rs->ingress[i], buf, sizeof(buf)),
				    c->ingress[i * 2]);
		assert_string_equal(rs->ingress[i].comment, c->ingress[i * 2 + 1]);
	}
	assert_int_equal(rs->n_internal, 0);    /* filled later, from the interfaces */
	if (rs->n_rules != want)
		fail_msg("%s: %zu rules, expected %zu", c->name, rs->n_rules, want);
	for (size_t i = 0; i < want; i++) {
		assert_string_equal(ruleset_rule_format(&rs->rules[i], buf, sizeof(buf)),
				    c->rules[i * 2]);
		assert_string_equal(rs->rules[i].comment, c->rules[i * 2 + 1]);
	}
	assert_int_equal(rs->protos, RULESET_PROTO_UDP | (c->tcp ? RULESET_PROTO_TCP : 0));
	ruleset_free(rs);
}

static void test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rules_cases) / sizeof(rules_cases[0]); i++)
		test_rules_one(&rules_cases[i]);
}

/* Policy rules land between the allow sets and the refuse, in order; one
 * naming both protocols becomes a UDP and a TCP rule. */
static void test_policy_rules(void **state)
{
	struct ruleset_rule pol[3] = {
		{ .protos = RULESET_PROTO_UDP | RULESET_PROTO_TCP, .match = RULESET_MATCH_CIDR,
		  .verdict = RULESET_ACCEPT, .counter = true, .comment = "sg-1: office" },
		{ .protos = RULESET_PROTO_UDP, .match = RULESET_MATCH_CIDR, .verdict = RULESET_DROP,
		  .comment = "sg-2: v6 block" },
		{ .protos = 0, .match = RULESET_MATCH_SET, .set = RULESET_SET_ALLOW6,
		  .verdict = RULESET_ACCEPT, .comment = "sg-3: all traffic" },
	};
	static const char *const want[] = {
		"iif \"lo\" accept",
		"fib daddr type != local accept",
		"iifname @internal accept",
		"meta l4proto udp ip saddr 198.51.100.0/24 counter accept",
		"meta l4proto tcp ip saddr 198.51.100.0/24 counter accept",
		"meta l4proto udp ip6 saddr 2001:db8::1 drop",
		"ip6 saddr @allow6 accept",
		"meta l4proto udp counter drop",
	};
	struct ruleset_params p = { .rules = pol, .n_rules = 3 };
	char buf[RULESET_RULE_STRLEN];
	struct ruleset *rs;

	(void)state;
	assert_int_equal(cidr_parse("198.51.100.0/24", &pol[0].cidr), 0);
	assert_int_equal(cidr_parse("2001:db8::1", &pol[1].cidr), 0);
	assert_int_equal(ruleset_new(&p, &rs, NULL, 0), 0);
	assert_int_equal(rs->n_rules, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(ruleset_rule_format(&rs->rules[i], buf, sizeof(buf)), want[i]);
	assert_string_equal(rs->rules[3].comment, "sg-1: office");
	assert_string_equal(rs->rules[4].comment, "sg-1: office");
	assert_string_equal(rs->rules[6].comment, "sg-3: all traffic");
	/* The caller's rule itself is left as written (standalone syntax). */
	assert_string_equal(ruleset_rule_format(&pol[1], buf, sizeof(buf)),
			    "udp dport 53 ip6 saddr 2001:db8::1 drop");
	ruleset_free(rs);
}

/* ---- refusals -------------------------------------------------------------- */

struct bad_case {
	const char *exempt;
	const char *comment;    /* of a policy rule, when exempt is NULL */
	const char *err;        /* substring of the error text */
};

static const struct bad_case bad_cases[] = {
	{ "*", NULL, "would exempt every interface" },
	{ "eth*0", NULL, "cannot be matched" },
	{ "a b", NULL, "cannot be matched" },
	{ "", NULL, "cannot be matched" },
	{ "with\"quote", NULL, "cannot be matched" },
	{ "sixteen-bytes-xx", NULL, "longer than 15 bytes" },
	{ NULL, "say \"hi\"", "holds a quote" },
	{ NULL, "line\nbreak", "control byte" },
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct ruleset_rule pol = { .protos = RULESET_PROTO_UDP, .verdict = RULESET_DROP };
		char *exempt[1] = { (char *)c->exempt }, err[160] = "";
		struct ruleset_params p = { 0 };
		struct ruleset *rs = (struct ruleset *)&pol;    /* must stay untouched */

		if (c->exempt) {
			p.exempt = exempt;
			p.n_exempt = 1;
		} else {
			snprintf(pol.comment, sizeof(pol.comment), "%s", c->comment);
			p.rules = &pol;
			p.n_rules = 1;
		}
		assert_int_equal(ruleset_new(&p, &rs, err, sizeof(err)), -EINVAL);
		assert_ptr_equal(rs, &pol);
		if (!strstr(err, c->err))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, c->err);
	}
}

/* ---- nft syntax ------------------------------------------------------------- */

static const char golden[] =
	"#!/usr/sbin/nft -f\n"
	"# port53guard: inbound DNS refused like the cloud rule \"Source 0.0.0.0/0, UDP:53, Refuse\"\n"
	"table inet port53guard\n"
	"delete table inet port53guard\n"
	"table inet port53guard {\n"
	"\tset allow4 {\n"
	"\t\ttype ipv4_addr\n"
	"\t\tflags interval\n"
	"\t\telements = {\n"
	"\t\t\t10.53.3.0/24,\n"
	"\t\t\t192.0.2.1-192.0.2.2\n"
	"\t\t}\n"
	"\t}\n"
	"\n"
	"\tset allow6 {\n"
	"\t\ttype ipv6_addr\n"
	"\t\tflags interval\n"
	"\t}\n"
	"\n"
	"\tset internal {\n"
	"\t\ttype ifname\n"
	"\t\telements = {\n"
	"\t\t\t\"docker0\",\n"
	"\t\t\t\"veth1a2b\",\n"
	"\t\t\t\"virbr0\"\n"
	"\t\t}\n"
	"\t}\n"
	"\n"
	"\tchain ingress {\n"
	"\t\ttype filter hook prerouting priority -300; policy accept;\n"
	"\t\tudp dport 53 jump dns comment \"UDP:53: the port the cloud rule filters; every other packet passes here\"\n"
	"\t}\n"
	"\n"
	"\tchain dns {\n"
	"\t\tiif \"lo\" accept comment \"loopback is never filtered (local resolvers such as 127.0.0.53 keep working)\"\n"
	"\t\tfib daddr type != local accept comment \"not addressed to this host (routed, forwarded): the cloud rule never sees it\"\n"
	"\t\tiifname @internal accept comment \"from a host-internal interface (container or VM network): the cloud never sees it\"\n"
	"\t\tiifname \"wg0\" accept comment \"exempt interface wg0\"\n"
	"\t\tmeta l4proto udp ip saddr @allow4 counter accept comment \"UDP:53 from the IPv4 allowlist: accept (mirrors an allow rule above the refuse)\"\n"
	"\t\tmeta l4proto udp counter drop comment \"UDP:53 from 0.0.0.0/0 and ::/0: refuse (mirrors the cloud rule)\"\n"
	"\t}\n"
	"}\n";

static void test_format_nft(void **state)
{
	const char *allow[] = { "192.0.2.2", "10.53.3.0/24", "192.0.2.1", NULL };
	const char *const internal[] = { "virbr0", "docker0", "veth1a2b", "docker0" };
	char *exempt[] = { "wg0" };
	struct cidr c[3];
	struct ruleset_params p = { .allow = c, .exempt = exempt, .n_exempt = 1 };
	struct ruleset *rs;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	p.n_allow = parse_all(allow, c);
	assert_int_equal(ruleset_new(&p, &rs, NULL, 0), 0);
	assert_int_equal(ruleset_set_internal(rs, internal, 4, NULL, 0), 0);
	assert_int_equal(ruleset_format_nft(rs, f), 0);
	fclose(f);
	assert_string_equal(text, golden);
	free(text);
	ruleset_free(rs);
}

/* ---- live tables compared with the desired one (pure: no kernel) --------- */

struct compare_case {
	const char *name;
	void (*spoil)(struct nft_live *live);   /* NULL: the table is missing */
	const char *diff;                       /* substring; NULL: they match */
	const char *diff_internal;              /* of nft_compare_internal(); NULL: match */
};

static struct nft_live_chain good_chain = {
	.name = "ingress", .base = true, .type = "filter", .hooknum = NF_INET_PRE_ROUTING,
	.priority = -300, .policy = NF_ACCEPT,
};

static struct nft_live_chain good_dns = { .name = "dns" };

static void spoil_nothing(struct nft_live *l) { (void)l; }
static void spoil_dormant(struct nft_live *l) { l->table_flags |= NFT_TABLE_F_DORMANT; }
static void spoil_no_chain(struct nft_live *l) { l->n_chains = 0; }
static void spoil_no_dns(struct nft_live *l) { l->n_chains = 1; }
static void spoil_dns_hooked(struct nft_live *l) { l->chains[1] = good_chain; snprintf(l->chains[1].name, 8, "dns"); }
static void spoil_priority(struct nft_live *l) { l->chains[0].priority = 0; }
static void spoil_policy(struct nft_live *l) { l->chains[0].policy = NF_DROP; }
static void spoil_extra_chain(struct nft_live *l) { l->n_chains = 3; }
static void spoil_no_sets(struct nft_live *l) { l->n_sets = 0; }
static void spoil_no_internal(struct nft_live *l) { l->n_sets = 2; }
static void spoil_internal_type(struct nft_live *l) { l->sets[2].key_type = 7; }
static void spoil_internal_flags(struct nft_live *l) { l->sets[2].flags = NFT_SET_INTERVAL; }
static void spoil_set_type(struct nft_live *l) { l->sets[1].key_len = 4; }
static void spoil_range(struct nft_live *l) { l->sets[0].ranges[0].end[3] = 0x7f; }
static void spoil_extra_range(struct nft_live *l) { l->sets[0].n_ranges = 2; }
static void spoil_no_ingress(struct nft_live *l) { l->n_ingress = 0; }
static void spoil_no_rules(struct nft_live *l) { l->n_rules = 0; }
static void spoil_rule_comment(struct nft_live *l) { snprintf(l->rules[1].comment, 8, "other"); }
static void spoil_rule_exprs(struct nft_live *l) { l->rules[2].exprs = (char *)"[ immediate reg 0 accept ]"; }
static void spoil_ingress_exprs(struct nft_live *l) { l->ingress[0].exprs = (char *)"[ immediate reg 0 accept ]"; }
static void spoil_extra_rule(struct nft_live *l) { l->n_rules++; }
static void spoil_names_extra(struct nft_live *l) { snprintf(l->sets[2].names[2], IFNAMSIZ, "eth0"); l->sets[2].n_names = 3; }
static void spoil_names_lack(struct nft_live *l) { l->sets[2].n_names = 1; }
static void spoil_names_empty(struct nft_live *l) { l->sets[2].n_names = 0; }

static const struct compare_case compare_cases[] = {
	{ "match", spoil_nothing, NULL, NULL },
	{ "missing", NULL, "table inet port53guard does not exist", "set internal is missing" },
	{ "dormant", spoil_dormant, "is dormant", NULL },
	{ "no chain", spoil_no_chain, "chain ingress is missing", NULL },
	{ "no dns chain", spoil_no_dns, "chain dns is missing", NULL },
	{ "dns chain hooked", spoil_dns_hooked, "chain dns is attached to hook prerouting", NULL },
	{ "priority", spoil_priority, "hook prerouting priority 0 policy accept", NULL },
	{ "policy", spoil_policy, "priority -300 policy drop", NULL },
	{ "extra chain", spoil_extra_chain, "unexpected chain sneaky", NULL },
	{ "no sets", spoil_no_sets, "set internal is missing", "set internal is missing" },
	{ "no internal set", spoil_no_internal, "set internal is missing", "set internal is missing" },
	{ "internal type", spoil_internal_type, "set internal is not \"type ifname\"", NULL },
	{ "internal flags", spoil_internal_flags, "set internal is not \"type ifname\"", NULL },
	{ "set type", spoil_set_type, "set allow6 is not \"type ipv6_addr; flags interval\"", NULL },
	{ "range", spoil_range, "set allow4 holds 10.53.3.0/25 where 10.53.3.0/24 is expected", NULL },
	{ "extra range", spoil_extra_range, "set allow4 holds 192.0.2.1 too", NULL },
	{ "no ingress rules", spoil_no_ingress,
	  "chain ingress rule 1 (udp dport 53 jump dns) is missing (0 rules, 1 expected)", NULL },
	{ "ingress exprs", spoil_ingress_exprs, "chain ingress rule 1 is not 'udp dport 53 jump dns'", NULL },
	{ "no rules", spoil_no_rules, "chain dns rule 1 (iif \"lo\" accept) is missing (0 rules, 5 expected)", NULL },
	{ "rule comment", spoil_rule_comment, "chain dns rule 2 is not 'fib daddr type != local accept'", NULL },
	{ "rule exprs", spoil_rule_exprs, "chain dns rule 3 is not 'iifname @internal accept'", NULL },
	{ "extra rule", spoil_extra_rule, "unexpected rule 6 in chain dns (comment \"sneaky\"", NULL },
	/* The set's elements follow the interfaces: nft_compare() leaves them
	 * to nft_compare_internal(). */
	{ "names extra", spoil_names_extra, NULL, "set internal holds \"eth0\", which is not a host-internal" },
	{ "names lacking", spoil_names_lack, NULL, "set internal lacks \"virbr0\"" },
	{ "names empty", spoil_names_empty, NULL, "set internal lacks \"docker0\"" },
};

static void test_compare_one(const struct ruleset *rs, const struct compare_case *c)
{
	struct nft_live_chain chains[3] = { good_chain, good_dns, good_chain };
	struct ruleset_range r4[2], r6[1];
	char names[3][IFNAMSIZ] = { "docker0", "virbr0" };
	struct nft_live_set sets[3] = {
		{ .name = "allow4", .flags = NFT_SET_INTERVAL, .key_type = 7, .key_len = 4,
		  .ranges = r4, .n_ranges = 1 },
		{ .name = "allow6", .flags = NFT_SET_INTERVAL, .key_type = 8, .key_len = 16,
		  .ranges = r6, .n_ranges = 0 },
		{ .name = "internal", .flags = 0, .key_type = 41, .key_len = IFNAMSIZ,
		  .names = names, .n_names = 2 },
	};
	struct nft_live_rule rules[8] = { { 0 } }, ingress[2] = { { 0 } };
	struct nft_live live = {
		.chains = chains, .n_chains = 2, .sets = sets, .n_sets = 3,
		.rules = rules, .n_rules = rs->n_rules, .ingress = ingress, .n_ingress = rs->n_ingress,
	};
	char diff[512] = "", diff2[512] = "";
	int want = c->diff ? 1 : 0, want2 = c->diff_internal ? 1 : 0;

	/* A live copy of rs, as the kernel would report it; then spoiled. */
	assert_true(rs->n_rules < 8 && rs->n_ingress <= 2);
	for (size_t i = 0; i < rs->n_rules; i++) {
		assert_int_equal(nft_rule_exprs(&rs->rules[i], &rules[i].exprs), 0);
		snprintf(rules[i].comment, sizeof(rules[i].comment), "%s", rs->rules[i].comment);
	}
	rules[rs->n_rules].exprs = strdup("[ immediate reg 0 accept ]");
	snprintf(rules[rs->n_rules].comment, sizeof(rules[0].comment), "sneaky");
	for (size_t i = 0; i < rs->n_ingress; i++) {
		assert_int_equal(nft_rule_exprs(&rs->ingress[i], &ingress[i].exprs), 0);
		snprintf(ingress[i].comment, sizeof(ingress[i].comment), "%s", rs->ingress[i].comment);
	}
	char *owned[8 + 2];
	for (size_t i = 0; i < 8; i++)
		owned[i] = rules[i].exprs;
	for (size_t i = 0; i < 2; i++)
		owned[8 + i] = ingress[i].exprs;
	snprintf(chains[2].name, sizeof(chains[2].name), "sneaky");
	memcpy(r4, rs->sets[0].ranges, sizeof(r4[0]));
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", r4[1].start), 1);
	memcpy(r4[1].end, r4[1].start, sizeof(r4[1].end));
	if (c->spoil)
		c->spoil(&live);
	if (nft_compare(c->spoil ? &live : NULL, rs, diff, sizeof(diff)) != want)
		fail_msg("%s: nft_compare %s (%s)", c->name, want ? "found no difference" : "differs", diff);
	if (c->diff && !strstr(diff, c->diff))
		fail_msg("%s: \"%s\" lacks \"%s\"", c->name, diff, c->diff);
	if (nft_compare_internal(c->spoil ? &live : NULL, rs, diff2, sizeof(diff2)) != want2)
		fail_msg("%s: nft_compare_internal %s (%s)", c->name,
			 want2 ? "found no difference" : "differs", diff2);
	if (c->diff_internal && !strstr(diff2, c->diff_internal))
		fail_msg("%s: \"%s\" lacks \"%s\"", c->name, diff2, c->diff_internal);
	for (size_t i = 0; i < 10; i++)
		free(owned[i]);
}

static void test_compare(void **state)
{
	const char *const internal[] = { "virbr0", "docker0" };
	struct cidr allow;
	struct ruleset_params p = { .allow = &allow, .n_allow = 1 };
	struct ruleset *rs;

	(void)state;
	assert_int_equal(cidr_parse("10.53.3.0/24", &allow), 0);
	assert_int_equal(ruleset_new(&p, &rs, NULL, 0), 0);
	assert_int_equal(ruleset_set_internal(rs, internal, 2, NULL, 0), 0);
	for (size_t i = 0; i < sizeof(compare_cases) / sizeof(compare_cases[0]); i++)
		test_compare_one(rs, &compare_cases[i]);
	ruleset_free(rs);
}

/* ---- table flags: what apply would set ---------------------------------- */

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

static void test_compare_flags(void **state)
{
	static const struct {
		bool missing;
		uint32_t live;          /* NFT_TABLE_F_* in the kernel */
		unsigned apply;         /* NFT_APPLY_* wanted */
		const char *diff;       /* NULL: match */
	} cases[] = {
		{ false, 0, 0, NULL },
		{ false, NFT_TABLE_F_DORMANT, 0, NULL },        /* nft_compare()'s business */
		{ false, NFT_TABLE_F_OWNER, NFT_APPLY_OWNER, NULL },
		{ false, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, NFT_APPLY_OWNER | NFT_APPLY_PERSIST, NULL },
		{ false, NFT_TABLE_F_OWNER, 0, "has flags owner where none are expected" },
		{ false, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, 0, "has flags owner persist where none" },
		{ false, 0, NFT_APPLY_OWNER, "has flags none where owner are expected" },
		{ false, NFT_TABLE_F_OWNER, NFT_APPLY_OWNER | NFT_APPLY_PERSIST, "where owner persist are" },
		{ true, 0, 0, "does not exist" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nft_live live = { .table_flags = cases[i].live };
		char diff[256] = "";
		int r = nft_compare_flags(cases[i].missing ? NULL : &live, cases[i].apply, diff, sizeof(diff));

		if (r != (cases[i].diff ? 1 : 0))
			fail_msg("case %zu: %d (%s)", i, r, diff);
		if (cases[i].diff && !strstr(diff, cases[i].diff))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, diff, cases[i].diff);
	}
}

/* ---- the internal set's elements ------------------------------------------- */

static void test_set_internal(void **state)
{
	static const struct {
		const char *names[6];
		int ret;
		const char *want;       /* elements, space separated; or a substring of the error */
	} cases[] = {
		{ { NULL }, 0, "" },
		{ { "virbr0", "docker0", "veth1a2b", NULL }, 0, "docker0 veth1a2b virbr0" },
		{ { "b", "a", "b", "a", "c", NULL }, 0, "a b c" },               /* sorted, unique */
		{ { "exactly15chars_", NULL }, 0, "exactly15chars_" },
		{ { "docker0", "veth*", NULL }, -EINVAL, "cannot be an element of set internal" },
		{ { "a\"b", NULL }, -EINVAL, "cannot be an element" },
		{ { "sixteen-bytes-xx", NULL }, -EINVAL, "cannot be an element" },
		{ { "", NULL }, -EINVAL, "cannot be an element" },
	};
	struct ruleset_params p = { 0 };
	struct ruleset *rs;

	(void)state;
	assert_int_equal(ruleset_new(&p, &rs, NULL, 0), 0);
	/* A failing call leaves what was there. */
	assert_int_equal(ruleset_set_internal(rs, (const char *const[]){ "keep0" }, 1, NULL, 0), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[256] = "", err[160] = "";
		size_t n = 0;

		while (cases[i].names[n])
			n++;
		if (ruleset_set_internal(rs, cases[i].names, n, err, sizeof(err)) != cases[i].ret)
			fail_msg("case %zu: not %d (%s)", i, cases[i].ret, err);
		if (cases[i].ret < 0) {
			if (!strstr(err, cases[i].want))
				fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
			continue;
		}
		for (size_t k = 0; k < rs->n_internal; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "", rs->internal[k]);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\", expected \"%s\"", i, got, cases[i].want);
		assert_true(ruleset_internal_equal(rs, (const char (*)[IFNAMSIZ])rs->internal, rs->n_internal));
	}
	assert_int_equal(ruleset_set_internal(rs, (const char *const[]){ "keep0" }, 1, NULL, 0), 0);
	assert_int_equal(ruleset_set_internal(rs, (const char *const[]){ "x*" }, 1, NULL, 0), -EINVAL);
	assert_int_equal(rs->n_internal, 1);
	assert_string_equal(rs->internal[0], "keep0");
	assert_false(ruleset_internal_equal(rs, NULL, 0));
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_random),
		cmocka_unit_test(test_normalize_orders),
		cmocka_unit_test(test_range_format),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_policy_rules),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_format_nft),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_compare_flags),
		cmocka_unit_test(test_set_internal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
