/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ruleset.h"
#include "sgpolicy.h"

#define MAXR 16

/* ---- reading the example exports ------------------------------------------ */

/* tests/data/policy, found from this file's path as the compiler saw it:
 * relative paths are relative to the build root, two levels above the test
 * binary, whatever directory the test runs in. */
static void data_path(const char *name, char *buf, size_t len)
{
	char exe[PATH_MAX], src[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	assert_true(n > 0);
	exe[n] = '\0';
	for (int i = 0; i < 2; i++) {
		slash = strrchr(exe, '/');
		assert_non_null(slash);
		*slash = '\0';
	}
	snprintf(src, sizeof(src), "%s", __FILE__);
	slash = strrchr(src, '/');
	assert_non_null(slash);
	*slash = '\0';
	if (src[0] == '/')
		n = snprintf(buf, len, "%s/../data/policy/%s", src, name);
	else
		n = snprintf(buf, len, "%s/%s/../data/policy/%s", exe, src, name);
	assert_true(n > 0 && (size_t)n < len);
}

static char *read_data(const char *name, size_t *ret_len)
{
	char path[PATH_MAX * 2];
	FILE *f;
	char *buf = malloc(1 << 20);
	size_t n;

	data_path(name, path, sizeof(path));
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*ret_len = n;
	return buf;
}

static struct sgpolicy *parse_ok(const char *json, size_t len)
{
	struct sgpolicy *p = NULL;
	char err[512] = "";
	int r = sgpolicy_parse(json, len, &p, err, sizeof(err));

	if (r != 0)
		fail_msg("parse failed (%d): %s", r, err);
	return p;
}

static char *rule_text(const struct ruleset_rule *r, char *buf, size_t len)
{
	char m[RULESET_RULE_STRLEN];

	snprintf(buf, len, "%s # %s", ruleset_rule_format(r, m, sizeof(m)), r->comment);
	return buf;
}

/* ---- the example exports: table driven ---------------------------------------- */

struct file_case {
	const char *file;
	unsigned protos;
	size_t n_groups;
	size_t n_entries;
	const char *rules[MAXR];
	const char *out_of_scope[MAXR];         /* prefixes of the entry lines */
	const char *warnings[MAXR];             /* prefixes of the warning lines */
	const char *public_dns[2];              /* entry line prefix, or NULL */
};

#define UDP RULESET_PROTO_UDP
#define TCP RULESET_PROTO_TCP

static const struct file_case file_cases[] = {
	{ "default-open.json", UDP, 1, 7,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: ?\??\??\??\??\?",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6" },
	  { "group 1, ingress entry 1 (PolicyIndex 0): ICMP from 0.0.0.0/0 ACCEPT (?\?Ping?\?)",
	    "group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 0.0.0.0/0 ACCEPT (?\?Linux SSH?\?)",
	    "group 1, ingress entry 3 (PolicyIndex 2): TCP:3389 from 0.0.0.0/0 ACCEPT",
	    "group 1, ingress entry 4 (PolicyIndex 3): TCP:80,443 from 0.0.0.0/0 ACCEPT (?\?Web?\?HTTP(80)?HTTPS(443))",
	    "group 1, ingress entry 5 (PolicyIndex 4): TCP:20-21 from 0.0.0.0/0 ACCEPT" },
	  { "2 egress entries ignored: only inbound rules are mirrored" },
	  { NULL, NULL } },
	{ "default-open.json", UDP | TCP, 1, 7,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: ?\??\??\??\??\?",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: ?\??\??\??\??\?",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6",
	    "tcp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6" },
	  { "group 1, ingress entry 1 ", "group 1, ingress entry 2 ", "group 1, ingress entry 3 ",
	    "group 1, ingress entry 4 ", "group 1, ingress entry 5 " },
	  { "2 egress entries ignored" },
	  { NULL, NULL } },
	{ "vpc-allowlist.json", UDP, 1, 3,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 PolicyIndex 0: VPC clients may resolve",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 2: refuse everything else" },
	  { "group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 203.0.113.0/24 ACCEPT (office SSH)" },
	  { NULL },
	  { NULL, NULL } },
	{ "templates.json", UDP, 1, 2,
	  { "udp dport 53 ip saddr 172.16.0.0/12 counter accept # cloud policy group 1 PolicyIndex 3: internal resolvers",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 4: refuse the rest" },
	  { NULL },
	  { "group 1, ingress entry 1 (PolicyIndex 0) \"partners, DNS service group\": skipped: refers to "
	    "address template group ipmg-2uw6ujo6, service template ppm-f5n1f8da, which only the cloud "
	    "can resolve; its ACCEPT is not mirrored: those sources are refused here unless a later rule accepts them",
	    "group 1, ingress entry 2 (PolicyIndex 1) \"abusers list\": skipped: refers to address template "
	    "ipm-9kq3vx1c, which only the cloud can resolve; its DROP is not mirrored: a later rule may accept those sources here",
	    "group 1, ingress entry 3 (PolicyIndex 2) \"peers in the web tier\": skipped: refers to security group sg-7ixn3foj,",
	    "1 egress entry ignored: only inbound rules are mirrored" },
	  { NULL, NULL } },
	{ "ports.json", UDP, 1, 9,
	  { "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 PolicyIndex 0: range around 53",
	    "udp dport 53 ip saddr 100.64.0.0/10 counter accept # cloud policy group 1 PolicyIndex 4: NTP and DNS",
	    "udp dport 53 ip saddr 192.0.2.128/25 counter drop # cloud policy group 1 PolicyIndex 7: one-port range",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest" },
	  { "group 1, ingress entry 2 (PolicyIndex 1): TCP:53,80 from 198.51.100.0/24 ACCEPT (list with 53)",
	    "group 1, ingress entry 3 (PolicyIndex 2): UDP:54-65535 from 0.0.0.0/0 ACCEPT",
	    "group 1, ingress entry 4 (PolicyIndex 3): UDP:1-52 from 0.0.0.0/0 ACCEPT",
	    "group 1, ingress entry 6 (PolicyIndex 5): TCP:8053 from 0.0.0.0/0 ACCEPT",
	    "group 1, ingress entry 7 (PolicyIndex 6): GRE from 198.18.0.0/15 ACCEPT (tunnel)" },
	  { NULL },
	  { NULL, NULL } },
	{ "ports.json", UDP | TCP, 1, 9,
	  { "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 PolicyIndex 0: range around 53",
	    "tcp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 1 PolicyIndex 1: list with 53",
	    "udp dport 53 ip saddr 100.64.0.0/10 counter accept # cloud policy group 1 PolicyIndex 4: NTP and DNS",
	    "udp dport 53 ip saddr 192.0.2.128/25 counter drop # cloud policy group 1 PolicyIndex 7: one-port range",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest" },
	  { "group 1, ingress entry 3 ", "group 1, ingress entry 4 ", "group 1, ingress entry 6 ",
	    "group 1, ingress entry 7 " },
	  { NULL },
	  { NULL, NULL } },
	{ "ipv6.json", UDP, 1, 5,
	  { "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 PolicyIndex 0: v6 clients",
	    "udp dport 53 ip saddr 10.8.0.0/16 counter accept # cloud policy group 1 PolicyIndex 1: both families in one entry",
	    "udp dport 53 ip6 saddr fd00:53::/32 counter accept # cloud policy group 1 PolicyIndex 1: both families in one entry",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 2: no other IPv6",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 3: IPv4 world" },
	  { "group 1, ingress entry 5 (PolicyIndex 4): ICMPv6 from ::/0 ACCEPT (ping6)" },
	  { NULL },
	  /* ::/0 is dropped first, which does not close IPv4. */
	  { "group 1, ingress entry 4 (PolicyIndex 3): UDP:53 from 0.0.0.0/0 ACCEPT", NULL } },
	{ "multi-group.json", UDP, 2, 5,
	  { "udp dport 53 ip saddr 198.51.100.0/24 counter drop # cloud policy group 1 PolicyIndex 1: known scanners",
	    "udp dport 53 ip saddr 203.0.113.0/24 counter accept # cloud policy group 1 PolicyIndex 1: same index, later in the file",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 2 PolicyIndex 0: public resolver",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 2 PolicyIndex 1" },
	  { "group 1, ingress entry 2 (PolicyIndex 0): TCP:22 from 0.0.0.0/0 ACCEPT (ssh)" },
	  { "1 egress entry ignored" },
	  { "group 2, ingress entry 1 (PolicyIndex 0): UDP:53 from 0.0.0.0/0 ACCEPT (public resolver)", NULL } },
	{ "public-dns.json", UDP, 1, 4,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1: DNS for everybody",
	    "udp dport 53 ip6 saddr ::/0 counter accept # cloud policy group 1 PolicyIndex 2: and over IPv6",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 3" },
	  { "group 1, ingress entry 1 (PolicyIndex 0): TCP:22 from 0.0.0.0/0 ACCEPT (ssh)" },
	  { NULL },
	  { "group 1, ingress entry 2 (PolicyIndex 1): UDP:53 from 0.0.0.0/0 ACCEPT (DNS for everybody)",
	    "group 1, ingress entry 3 (PolicyIndex 2): UDP:53 from ::/0 ACCEPT (and over IPv6)" } },
};

static size_t count(const char *const *list)
{
	size_t n = 0;

	while (n < MAXR && list[n])
		n++;
	return n;
}

static void assert_prefix(const char *want, const char *got)
{
	if (strncmp(want, got, strlen(want)) != 0)
		fail_msg("expected a line starting\n  %s\ngot\n  %s", want, got);
}

static void check_mirror(const struct file_case *c, const struct sgpolicy *p,
			 const struct sgpolicy_mirror *m)
{
	char line[SGPOLICY_LINE_MAX];

	assert_int_equal(m->n_rules, count(c->rules));
	for (size_t i = 0; i < m->n_rules; i++)
		assert_string_equal(rule_text(&m->rules[i], line, sizeof(line)), c->rules[i]);
	assert_int_equal(m->n_out_of_scope, count(c->out_of_scope));
	for (size_t i = 0; i < m->n_out_of_scope; i++)
		assert_prefix(c->out_of_scope[i],
			      sgpolicy_entry_format(&p->entries[m->out_of_scope[i]], line, sizeof(line)));
	for (int f = 0; f < 2; f++) {
		if (!c->public_dns[f]) {
			assert_true(m->public_dns[f] == SGPOLICY_NONE);
			continue;
		}
		assert_true(m->public_dns[f] < p->n_entries);
		assert_prefix(c->public_dns[f],
			      sgpolicy_entry_format(&p->entries[m->public_dns[f]], line, sizeof(line)));
	}
	assert_int_equal(sgpolicy_mirror_public_dns(m), c->public_dns[0] || c->public_dns[1]);
}

/* The whole table: loopback, the host's allowlist, the policy in order,
 * then the final refuse, which is the policy's implicit one. */
static void check_table(const struct file_case *c, const struct sgpolicy_mirror *m)
{
	struct cidr allow;
	struct ruleset_params params = { .tcp = (c->protos & TCP) != 0, .allow = &allow, .n_allow = 1,
					 .rules = m->rules, .n_rules = m->n_rules };
	struct ruleset *rs = NULL;
	char err[256] = "", a[RULESET_RULE_STRLEN], b[RULESET_RULE_STRLEN];
	/* loopback, not local, internal, the allowlist (per protocol) */
	size_t lead = (c->protos & TCP) ? 5 : 4, tail = (c->protos & TCP) ? 2 : 1;

	assert_int_equal(cidr_parse("192.0.2.53", &allow), 0);
	if (ruleset_new(&params, &rs, err, sizeof(err)) != 0)
		fail_msg("ruleset_new: %s", err);
	assert_int_equal(rs->n_rules, lead + m->n_rules + tail);
	assert_int_equal(rs->rules[0].match, RULESET_MATCH_IIF_LO);
	assert_int_equal(rs->rules[1].match, RULESET_MATCH_NOT_LOCAL);
	assert_int_equal(rs->rules[2].match, RULESET_MATCH_INTERNAL);
	assert_int_equal(rs->rules[3].match, RULESET_MATCH_SET);
	for (size_t i = 0; i < m->n_rules; i++) {
		/* In the dns chain the port is already matched by the jump. */
		struct ruleset_rule in_chain = m->rules[i];

		in_chain.port_checked = true;
		assert_string_equal(ruleset_rule_format(&rs->rules[lead + i], a, sizeof(a)),
				    ruleset_rule_format(&in_chain, b, sizeof(b)));
	}
	assert_string_equal(rs->rules[lead + m->n_rules].comment, RULESET_COMMENT_REFUSE_UDP);
	assert_int_equal(rs->rules[lead + m->n_rules].match, RULESET_MATCH_ANY);
	ruleset_free(rs);
}

static void test_file_one(const struct file_case *c)
{
	char line[SGPOLICY_LINE_MAX];
	struct sgpolicy_mirror *m = NULL;
	size_t len, skipped = 0;
	char *json = read_data(c->file, &len);
	struct sgpolicy *p = parse_ok(json, len);

	assert_int_equal(p->n_groups, c->n_groups);
	assert_int_equal(p->n_entries, c->n_entries);
	assert_int_equal(p->n_warnings, count(c->warnings));
	for (size_t i = 0; i < p->n_warnings; i++) {
		assert_prefix(c->warnings[i], sgpolicy_warning_format(&p->warnings[i], line, sizeof(line)));
		skipped += p->warnings[i].kind == SGPOLICY_WARN_UNRESOLVED;
	}
	assert_int_equal(p->n_skipped, skipped);
	assert_int_equal(sgpolicy_mirror_new(p, c->protos, &m), 0);
	check_mirror(c, p, m);
	check_table(c, m);
	sgpolicy_mirror_free(m);
	sgpolicy_free(p);
	free(json);
}

static void test_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		print_message("  %s (%s)\n", file_cases[i].file,
			      file_cases[i].protos & TCP ? "udp, tcp" : "udp");
		test_file_one(&file_cases[i]);
	}
}

/* ---- inline policies: semantics ------------------------------------------------ */

struct inline_case {
	const char *name;
	const char *json;
	unsigned protos;
	const char *rules[MAXR];
	size_t n_out_of_scope;
	bool public4, public6;
};

#define E(idx, proto, port, cidr, action) \
	"{\"PolicyIndex\":" #idx ",\"Protocol\":\"" proto "\",\"Port\":\"" port "\"," \
	"\"CidrBlock\":\"" cidr "\",\"Action\":\"" action "\"}"

static const struct inline_case inline_cases[] = {
	{ "a drop of 0.0.0.0/0 first shadows a later public accept",
	  "{\"Ingress\":[" E(0, "UDP", "53", "0.0.0.0/0", "DROP") "," E(1, "UDP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 0",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1" },
	  0, false, false },
	{ "a narrower drop does not shadow the public accept",
	  "{\"Ingress\":[" E(0, "UDP", "53", "198.51.100.0/24", "DROP") "," E(1, "ALL", "ALL", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 198.51.100.0/24 counter drop # cloud policy group 1 PolicyIndex 0",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1" },
	  0, true, false },
	{ "a public TCP accept is no UDP finding",
	  "{\"Ingress\":[" E(0, "TCP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP | TCP,
	  { "tcp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 0" },
	  0, false, false },
	{ "TCP:53 is out of scope when only UDP is refused",
	  "{\"Ingress\":[" E(0, "TCP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP, { NULL }, 1, false, false },
	{ "entries sorted by PolicyIndex, not file order",
	  "{\"Ingress\":[" E(7, "UDP", "53", "10.0.0.0/8", "DROP") "," E(3, "UDP", "53", "10.1.0.0/16", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.1.0.0/16 counter accept # cloud policy group 1 PolicyIndex 3",
	    "udp dport 53 ip saddr 10.0.0.0/8 counter drop # cloud policy group 1 PolicyIndex 7" },
	  0, false, false },
	{ "any case, ALL with an empty port, host address",
	  "{\"Ingress\":[" E(0, "all", "", "192.0.2.1", "accept") "]}",
	  UDP | TCP,
	  { "udp dport 53 ip saddr 192.0.2.1 counter accept # cloud policy group 1 PolicyIndex 0",
	    "tcp dport 53 ip saddr 192.0.2.1 counter accept # cloud policy group 1 PolicyIndex 0" },
	  0, false, false },
	{ "ports at the edges of 53",
	  "{\"Ingress\":[" E(0, "UDP", "52", "10.0.0.1", "ACCEPT") "," E(1, "UDP", "54", "10.0.0.2", "ACCEPT") ","
	  E(2, "UDP", "0-53", "10.0.0.3", "ACCEPT") "," E(3, "UDP", "53-65535", "10.0.0.4", "ACCEPT") ","
	  E(4, "UDP", "1,2,3, 53 ,4", "10.0.0.5", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.3 counter accept # cloud policy group 1 PolicyIndex 2",
	    "udp dport 53 ip saddr 10.0.0.4 counter accept # cloud policy group 1 PolicyIndex 3",
	    "udp dport 53 ip saddr 10.0.0.5 counter accept # cloud policy group 1 PolicyIndex 4" },
	  2, false, false },
	{ "an empty group refuses everything: no rules",
	  "{\"Version\":\"1\",\"Ingress\":[],\"Egress\":[]}", UDP, { NULL }, 0, false, false },
	{ "a group without Ingress",
	  "{\"Version\":\"1\"}", UDP, { NULL }, 0, false, false },
	{ "descriptions are made safe for nft comments",
	  "{\"Ingress\":[{\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\","
	  "\"Action\":\"ACCEPT\",\"PolicyDescription\":\"say \\\"hi\\\" \\\\ \\n\\u001b[2J \\u4e2d\\u6587 ok\"}]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 PolicyIndex 0: say ?hi? ? ?\?[2J ?\? ok" },
	  0, false, false },
};

static void test_inline_one(const struct inline_case *c)
{
	struct sgpolicy *p = parse_ok(c->json, strlen(c->json));
	struct sgpolicy_mirror *m = NULL;
	char line[SGPOLICY_LINE_MAX];

	assert_int_equal(sgpolicy_mirror_new(p, c->protos, &m), 0);
	assert_int_equal(m->n_rules, count(c->rules));
	for (size_t i = 0; i < m->n_rules; i++)
		assert_string_equal(rule_text(&m->rules[i], line, sizeof(line)), c->rules[i]);
	assert_int_equal(m->n_out_of_scope, c->n_out_of_scope);
	assert_int_equal(m->public_dns[0] != SGPOLICY_NONE, c->public4);
	assert_int_equal(m->public_dns[1] != SGPOLICY_NONE, c->public6);
	sgpolicy_mirror_free(m);
	sgpolicy_free(p);
}

static void test_inline(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
		print_message("  %s\n", inline_cases[i].name);
		test_inline_one(&inline_cases[i]);
	}
}

/* A description as long as the API allows still leaves the group and the
 * index in the comment, and the kernel's comment limit holds. */
static void test_long_description(void **state)
{
	char json[1024], desc[301];
	struct sgpolicy *p;
	struct sgpolicy_mirror *m = NULL;
	struct ruleset *rs = NULL;
	struct ruleset_params params = { 0 };
	char err[256];

	(void)state;
	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"Ingress\":[{\"PolicyIndex\":2147483647,\"Protocol\":\"UDP\","
		 "\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"DROP\","
		 "\"PolicyDescription\":\"%s\"}]}", desc);
	p = parse_ok(json, strlen(json));
	assert_int_equal(sgpolicy_mirror_new(p, UDP, &m), 0);
	assert_int_equal(m->n_rules, 1);
	assert_true(strlen(m->rules[0].comment) <= RULESET_COMMENT_MAX);
	assert_prefix("cloud policy group 1 PolicyIndex 2147483647: ddd", m->rules[0].comment);
	params.rules = m->rules;
	params.n_rules = m->n_rules;
	if (ruleset_new(&params, &rs, err, sizeof(err)) != 0)
		fail_msg("ruleset_new: %s", err);
	ruleset_free(rs);
	sgpolicy_mirror_free(m);
	sgpolicy_free(p);
}

/* ---- malformed input: each field's error --------------------------------------- */

struct error_case {
	const char *json;
	int err;
	const char *message;                    /* exact, or a prefix when it ends in '*' */
};

#define ENTRY(fields) "{\"Ingress\":[{" fields "}]}"
#define OK_PART "\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""
#define G1E1 "group 1, ingress entry 1 (PolicyIndex 0): "

static const struct error_case error_cases[] = {
	{ "{", -EINVAL, "not valid JSON: line 1, column 1: *" },
	{ "{\"Ingress\":[],\"Ingress\":[]}", -EINVAL, "not valid JSON: *" },
	{ "53", -EINVAL, "not valid JSON: *" },
	{ "", -EINVAL, "not valid JSON: *" },
	{ "{\"Ingress\":[]} trailing", -EINVAL, "not valid JSON: *" },
	{ "[]", -EINVAL, "an empty list: no security group" },
	{ "[5]", -EINVAL, "group 1: not a security group policy (no SecurityGroupPolicySet, Ingress or Egress)" },
	{ "{\"RequestId\":\"x\"}", -EINVAL, "group 1: not a security group policy *" },
	{ "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SecretIdNotFound\",\"Message\":\"The SecretId is not found\"},"
	  "\"RequestId\":\"3c5e\"}}", -EINVAL,
	  "group 1: the file holds an API error, not a policy: AuthFailure.SecretIdNotFound: The SecretId is not found" },
	{ "{\"SecurityGroupPolicySet\":[]}", -EINVAL, "group 1: SecurityGroupPolicySet: not an object" },
	{ "{\"Ingress\":{}}", -EINVAL, "group 1: Ingress: not an array" },
	{ "{\"Ingress\":[],\"Egress\":3}", -EINVAL, "group 1: Egress: not an array" },
	{ "{\"Ingress\":[5]}", -EINVAL, "group 1, ingress entry 1: not an object" },
	{ ENTRY(OK_PART), -EINVAL, "group 1, ingress entry 1: PolicyIndex: missing" },
	{ ENTRY("\"PolicyIndex\":\"0\"," OK_PART), -EINVAL, "group 1, ingress entry 1: PolicyIndex: not a whole number" },
	{ ENTRY("\"PolicyIndex\":1.5," OK_PART), -EINVAL, "group 1, ingress entry 1: PolicyIndex: not a whole number" },
	{ ENTRY("\"PolicyIndex\":-1," OK_PART), -EINVAL,
	  "group 1, ingress entry 1: PolicyIndex \"-1\": out of range (0 to 2147483647)" },
	{ ENTRY("\"PolicyIndex\":2147483648," OK_PART), -EINVAL,
	  "group 1, ingress entry 1: PolicyIndex \"2147483648\": out of range (0 to 2147483647)" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\""), -EINVAL,
	  G1E1 "Action: missing" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"REJECT\""),
	  -EINVAL, G1E1 "Action \"REJECT\": not ACCEPT or DROP" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":true"),
	  -EINVAL, G1E1 "Action: not a string" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\","
		"\"Action\":\"\\u001b[2J\\\"\\\\\""), -EINVAL,
	  G1E1 "Action \"\\x1b[2J\\x22\\x5c\": not ACCEPT or DROP" },
	{ ENTRY("\"PolicyIndex\":0," OK_PART ",\"PolicyDescription\":5"), -EINVAL, G1E1 "PolicyDescription: not a string" },
	{ ENTRY("\"PolicyIndex\":0,\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""), -EINVAL,
	  G1E1 "Protocol: missing" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"SCTP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Protocol \"SCTP\": not TCP, UDP, ICMP, ICMPv6, GRE or ALL" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":17,\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Protocol: not a string" },
	{ "{\"Ingress\":[" E(0, "UDP", "53", "10.0.0.0/8", "ACCEPT") "," E(1, "TCP", "22", "0.0.0.0/0", "ACCEPT") ","
	  E(2, "UDP", "53-", "10.0.0.0/8", "ACCEPT") "]}", -EINVAL,
	  "group 1, ingress entry 3 (PolicyIndex 2): Port \"53-\": not a port, range or list" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"70000\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"70000\": port above 65535" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"1-99999999999999999999\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"1-99999999999999999999\": port above 65535" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"60-50\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"60-50\": range starts above its end" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53,,80\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"53,,80\": not a port, range or list" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"dns\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"dns\": not a port, range or list" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53,\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port \"53,\": not a port, range or list" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"TCP\",\"Port\":\"\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port: missing for TCP" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port: missing for UDP" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":53,\"CidrBlock\":\"10.0.0.0/8\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Port: not a string" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"Action\":\"ACCEPT\""), -EINVAL,
	  G1E1 "CidrBlock: missing (and no Ipv6CidrBlock, SecurityGroupId or AddressTemplate)" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"\",\"Ipv6CidrBlock\":\"\","
		"\"SecurityGroupId\":\"\",\"AddressTemplate\":{\"AddressId\":\"\",\"AddressGroupId\":\"\"},\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock: missing (and no Ipv6CidrBlock, SecurityGroupId or AddressTemplate)" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/33\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock \"10.0.0.0/33\": prefix length out of range" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.1/24\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock \"10.0.0.1/24\": host bits set below the prefix length" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"example.com\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock \"example.com\": not an address or prefix" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":[\"10.0.0.0/8\"],\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock: not a string" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"Ipv6CidrBlock\":\"fd00::/129\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "Ipv6CidrBlock \"fd00::/129\": prefix length out of range" },
	{ ENTRY("\"PolicyIndex\":0," OK_PART ",\"AddressTemplate\":\"ipm-1\""), -EINVAL,
	  G1E1 "AddressTemplate: not an object" },
	{ ENTRY("\"PolicyIndex\":0," OK_PART ",\"ServiceTemplate\":{\"ServiceId\":7}"), -EINVAL,
	  G1E1 "ServiceTemplate.ServiceId: not a string" },
	{ ENTRY("\"PolicyIndex\":0," OK_PART ",\"SecurityGroupId\":false"), -EINVAL,
	  G1E1 "SecurityGroupId: not a string" },
	{ "[{\"Ingress\":[]},{\"SecurityGroupPolicySet\":{\"Ingress\":[" E(0, "UDP", "53", "10.0.0.0/8", "ACCEPT") ","
	  E(4, "UDP", "53", "10.0.0.0/8", "ALLOW") "]}}]", -EINVAL,
	  "group 2, ingress entry 2 (PolicyIndex 4): Action \"ALLOW\": not ACCEPT or DROP" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock \"012345678901234567890123456789012345678901234567...\": not an address or prefix" },
};

static void test_error_one(const struct error_case *c)
{
	struct sgpolicy *p = NULL;
	char err[512] = "";
	size_t n = strlen(c->message);
	int r = sgpolicy_parse(c->json, strlen(c->json), &p, err, sizeof(err));

	assert_int_equal(r, c->err);
	assert_null(p);
	if (c->message[n - 1] == '*') {
		if (strncmp(c->message, err, n - 1) != 0)
			fail_msg("expected an error starting\n  %.*s\ngot\n  %s", (int)(n - 1), c->message, err);
	} else
		assert_string_equal(err, c->message);
	for (const unsigned char *s = (const unsigned char *)err; *s; s++)
		assert_true(*s >= 0x20 && *s < 0x7f);
}

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		print_message("  %s\n", error_cases[i].message);
		test_error_one(&error_cases[i]);
	}
}

static void test_limits(void **state)
{
	size_t big = SGPOLICY_MAX_SIZE + 1, n;
	char *buf = malloc(big);
	struct sgpolicy *p = NULL;
	char err[256] = "";
	FILE *f;

	(void)state;
	assert_non_null(buf);
	memset(buf, ' ', big);
	assert_int_equal(sgpolicy_parse(buf, big, &p, err, sizeof(err)), -EFBIG);
	assert_null(p);
	assert_string_equal(err, "larger than 8 MiB");
	f = fmemopen(buf, big, "w");
	assert_non_null(f);
	fputc('[', f);
	for (int i = 0; i < SGPOLICY_MAX_GROUPS + 1; i++)
		fprintf(f, "%s{\"Ingress\":[]}", i ? "," : "");
	fputc(']', f);
	n = (size_t)ftell(f);
	fclose(f);
	assert_int_equal(sgpolicy_parse(buf, n, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "more than 64 security groups");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_long_description),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
