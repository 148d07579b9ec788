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
	const char *public_tcp[2];              /* the same for TCP:53 */
	enum sgpolicy_format format;            /* of the whole file; AUTO: mixed */
	const char *version;
};

#define UDP RULESET_PROTO_UDP
#define TCP RULESET_PROTO_TCP

static const struct file_case file_cases[] = {
	{ "default-open.json", UDP, 1, 7,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: 拒绝其他所有入站流量",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6" },
	  { "Tencent Cloud group 1, ingress entry 1 (PolicyIndex 0): ICMP from 0.0.0.0/0 ACCEPT (放通Ping服务)",
	    "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 0.0.0.0/0 ACCEPT (放通Linux SSH登录)",
	    "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): TCP:3389 from 0.0.0.0/0 ACCEPT",
	    "Tencent Cloud group 1, ingress entry 4 (PolicyIndex 3): TCP:80,443 from 0.0.0.0/0 ACCEPT (放通Web服务HTTP(80)和HTTPS(443))",
	    "Tencent Cloud group 1, ingress entry 5 (PolicyIndex 4): TCP:20-21 from 0.0.0.0/0 ACCEPT" },
	  { "2 egress entries ignored: only inbound rules are mirrored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "default-open.json", UDP | TCP, 1, 7,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: 拒绝其他所有入站流量",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 5: 拒绝其他所有入站流量",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6",
	    "tcp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 6: deny all other IPv6" },
	  { "Tencent Cloud group 1, ingress entry 1 ", "Tencent Cloud group 1, ingress entry 2 ", "Tencent Cloud group 1, ingress entry 3 ",
	    "Tencent Cloud group 1, ingress entry 4 ", "Tencent Cloud group 1, ingress entry 5 " },
	  { "2 egress entries ignored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "vpc-allowlist.json", UDP, 1, 3,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 PolicyIndex 0: VPC clients may resolve",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 2: refuse everything else" },
	  { "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 203.0.113.0/24 ACCEPT (office SSH)" },
	  { NULL },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "templates.json", UDP, 1, 2,
	  { "udp dport 53 ip saddr 172.16.0.0/12 counter accept # cloud policy group 1 PolicyIndex 3: internal resolvers",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 4: refuse the rest" },
	  { NULL },
	  { "Tencent Cloud group 1, ingress entry 1 (PolicyIndex 0) \"partners, DNS service group\": skipped: refers to "
	    "address template group ipmg-2uw6ujo6, service template ppm-f5n1f8da, which only the cloud "
	    "can resolve; its ACCEPT is not mirrored: those sources are refused here unless a later rule accepts them",
	    "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1) \"abusers list\": skipped: refers to address template "
	    "ipm-9kq3vx1c, which only the cloud can resolve; its DROP is not mirrored: a later rule may accept those sources here",
	    "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2) \"peers in the web tier\": skipped: refers to security group sg-7ixn3foj,",
	    "1 egress entry ignored: only inbound rules are mirrored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "ports.json", UDP, 1, 9,
	  { "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 PolicyIndex 0: range around 53",
	    "udp dport 53 ip saddr 100.64.0.0/10 counter accept # cloud policy group 1 PolicyIndex 4: NTP and DNS",
	    "udp dport 53 ip saddr 192.0.2.128/25 counter drop # cloud policy group 1 PolicyIndex 7: one-port range",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest" },
	  { "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): TCP:53,80 from 198.51.100.0/24 ACCEPT (list with 53)",
	    "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): UDP:54-65535 from 0.0.0.0/0 ACCEPT",
	    "Tencent Cloud group 1, ingress entry 4 (PolicyIndex 3): UDP:1-52 from 0.0.0.0/0 ACCEPT",
	    "Tencent Cloud group 1, ingress entry 6 (PolicyIndex 5): TCP:8053 from 0.0.0.0/0 ACCEPT",
	    "Tencent Cloud group 1, ingress entry 7 (PolicyIndex 6): GRE from 198.18.0.0/15 ACCEPT (tunnel)" },
	  { NULL },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "ports.json", UDP | TCP, 1, 9,
	  { "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 PolicyIndex 0: range around 53",
	    "tcp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 1 PolicyIndex 1: list with 53",
	    "udp dport 53 ip saddr 100.64.0.0/10 counter accept # cloud policy group 1 PolicyIndex 4: NTP and DNS",
	    "udp dport 53 ip saddr 192.0.2.128/25 counter drop # cloud policy group 1 PolicyIndex 7: one-port range",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 8: refuse the rest" },
	  { "Tencent Cloud group 1, ingress entry 3 ", "Tencent Cloud group 1, ingress entry 4 ", "Tencent Cloud group 1, ingress entry 6 ",
	    "Tencent Cloud group 1, ingress entry 7 " },
	  { NULL },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "ipv6.json", UDP, 1, 5,
	  { "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 PolicyIndex 0: v6 clients",
	    "udp dport 53 ip saddr 10.8.0.0/16 counter accept # cloud policy group 1 PolicyIndex 1: both families in one entry",
	    "udp dport 53 ip6 saddr fd00:53::/32 counter accept # cloud policy group 1 PolicyIndex 1: both families in one entry",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 PolicyIndex 2: no other IPv6",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 3: IPv4 world" },
	  { "Tencent Cloud group 1, ingress entry 5 (PolicyIndex 4): ICMPv6 from ::/0 ACCEPT (ping6)" },
	  { NULL },
	  /* ::/0 is dropped first, which does not close IPv4. */
	  { "Tencent Cloud group 1, ingress entry 4 (PolicyIndex 3): UDP:53 from 0.0.0.0/0 ACCEPT", NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "multi-group.json", UDP, 2, 5,
	  { "udp dport 53 ip saddr 198.51.100.0/24 counter drop # cloud policy group 1 PolicyIndex 1: known scanners",
	    "udp dport 53 ip saddr 203.0.113.0/24 counter accept # cloud policy group 1 PolicyIndex 1: same index, later in the file",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 2 PolicyIndex 0: public resolver",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 2 PolicyIndex 1" },
	  { "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 0): TCP:22 from 0.0.0.0/0 ACCEPT (ssh)" },
	  { "1 egress entry ignored" },
	  { "Tencent Cloud group 2, ingress entry 1 (PolicyIndex 0): UDP:53 from 0.0.0.0/0 ACCEPT (public resolver)", NULL }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	{ "public-dns.json", UDP, 1, 4,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1: DNS for everybody",
	    "udp dport 53 ip6 saddr ::/0 counter accept # cloud policy group 1 PolicyIndex 2: and over IPv6",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 3" },
	  { "Tencent Cloud group 1, ingress entry 1 (PolicyIndex 0): TCP:22 from 0.0.0.0/0 ACCEPT (ssh)" },
	  { NULL },
	  { "Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): UDP:53 from 0.0.0.0/0 ACCEPT (DNS for everybody)",
	    "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): UDP:53 from ::/0 ACCEPT (and over IPv6)" }, { NULL, NULL }, SGPOLICY_FORMAT_TENCENT, NULL },
	/* Alibaba: Priority (a number or a numeric string) orders, Drop wins a
	 * tie (listed after the Accept here), -1/-1 is every port. */
	{ "alibaba/vpc-allowlist.json", UDP, 1, 7,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 Priority 1: VPC 内网客户端解析 DNS",
	    "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 Priority 2: IPv6 VPC",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 5: 禁止公网 DNS（同优先级拒绝优先）",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 Priority 5: 误开放的全部 UDP",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 100: 拒绝其他所有访问" },
	  { "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 6 (Priority 1, rule sgr-bp12kewq32dfs3kiu8d6): "
	    "TCP:22/22 from 0.0.0.0/0 ACCEPT (SSH)",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 9 (Priority 1, rule sgr-bp12kewq32dfs3kiu8d9): "
	    "ICMP from 0.0.0.0/0 ACCEPT (ping)" },
	  { "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 7 (Priority 1, rule sgr-bp12kewq32dfs3kiu8d7) "
	    "\"应用层实例\": skipped: refers to security group sg-bp67acfmxazb4ph0p3kl, which only the cloud can resolve; "
	    "its ACCEPT is not mirrored: those sources are refused here unless a later rule accepts them",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 8 (Priority 3, rule sgr-bp12kewq32dfs3kiu8d8) "
	    "\"blocklist\": skipped: refers to prefix list pl-x1j1k5ykzqlixdcy0hnd, which only the cloud can resolve; "
	    "its DROP is not mirrored: a later rule may accept those sources here",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5): skipped: refers to the group's own instances "
	    "(InnerAccessPolicy Accept), which only the cloud can resolve; its ACCEPT is not mirrored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_ALIBABA, "" },
	{ "alibaba/vpc-allowlist.json", UDP | TCP, 1, 7,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 Priority 1: VPC 内网客户端解析 DNS",
	    "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 Priority 2: IPv6 VPC",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 5: 禁止公网 DNS（同优先级拒绝优先）",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 Priority 5: 误开放的全部 UDP",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 100: 拒绝其他所有访问",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 100: 拒绝其他所有访问" },
	  { "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 6 ",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 9 " },
	  { "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 7 ",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5), permission 8 ",
	    "Alibaba Cloud group 1 (sg-bp1fg655nh68xyz9i9m5): skipped: refers to the group's own instances" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_ALIBABA, "" },
	/* Huawei: priority orders, deny wins a tie, an empty protocol and
	 * multiport are everything, a missing remote is the family's /0. */
	{ "huawei/vpc-allowlist.json", UDP | TCP, 1, 7,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 priority 1: VPC 内网 DNS",
	    "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 priority 1: IPv6 VPC",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 priority 10: 同优先级拒绝优先",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 priority 10: 误开放的端口",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 priority 100: 拒绝其他 IPv4 访问",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 priority 100: 拒绝其他 IPv4 访问",
	    "udp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 priority 100: 拒绝其他 IPv6 访问",
	    "tcp dport 53 ip6 saddr ::/0 counter drop # cloud policy group 1 priority 100: 拒绝其他 IPv6 访问" },
	  { "Huawei Cloud group 1 (0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f), rule 5 (priority 1, id "
	    "5d4e0f6b-7a8c-4d9e-1f2a-3b4c5d6e7f80): TCP:22 from 0.0.0.0/0 ACCEPT (SSH)" },
	  { "Huawei Cloud group 1 (0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f), rule 8 (priority 1, id "
	    "807b3c9e-0d1f-4a2b-4c5d-6e7f8091a2b3) \"同组实例互通\": skipped: refers to security group "
	    "0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f, which only the cloud can resolve; its ACCEPT is not mirrored",
	    "Huawei Cloud group 1 (0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f), rule 9 (priority 5, id "
	    "918c4d0f-1e2a-4b3c-5d6e-7f8091a2b3c4): skipped: refers to address group "
	    "d5e2b0f1-3c4d-4e5f-8a9b-0c1d2e3f4a5b, which only the cloud can resolve; its DROP is not mirrored",
	    "2 egress entries ignored: only inbound rules are mirrored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_HUAWEI, "" },
	/* AWS: allow only, the groups combine, one entry per range. */
	{ "aws/describe-security-groups.json", UDP, 2, 7,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 permission 1: VPC 内网解析",
	    "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 permission 1: office",
	    "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 permission 1: v6 VPC",
	    "udp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 2 permission 1: 监控系统全部放通" },
	  { "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 2, IpRanges 1: TCP:22 from 0.0.0.0/0 ACCEPT (SSH)",
	    "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 3, IpRanges 1: ICMP from 0.0.0.0/0 ACCEPT",
	    "AWS group 2 (sg-0b2c3d4e5f6071829), permission 2, IpRanges 1: TCP:0-65535 from 203.0.113.0/24 ACCEPT" },
	  { "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 1 \"partners\": skipped: refers to prefix list "
	    "pl-0123456789abcdef0, which only the cloud can resolve; its allow is not mirrored: those sources are "
	    "refused here unless another rule accepts them",
	    "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 1 \"app tier\": skipped: refers to security group "
	    "sg-0fedcba9876543210, which only the cloud can resolve",
	    "2 egress entries ignored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_AWS, "" },
	{ "aws/describe-security-groups.json", UDP | TCP, 2, 7,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 permission 1: VPC 内网解析",
	    "udp dport 53 ip saddr 192.0.2.0/24 counter accept # cloud policy group 1 permission 1: office",
	    "udp dport 53 ip6 saddr 2001:db8:53::/48 counter accept # cloud policy group 1 permission 1: v6 VPC",
	    "udp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 2 permission 1: 监控系统全部放通",
	    "tcp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 2 permission 1: 监控系统全部放通",
	    "tcp dport 53 ip saddr 203.0.113.0/24 counter accept # cloud policy group 2 permission 2" },
	  { "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 2, IpRanges 1: TCP:22 ",
	    "AWS group 1 (sg-0a1b2c3d4e5f60718), permission 3, IpRanges 1: ICMP " },
	  { "AWS group 1 ", "AWS group 1 ", "2 egress entries ignored" },
	  { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_AWS, "" },
	/* Mixed providers in one list: groups in file order, each in its own. */
	{ "mixed.json", UDP, 3, 3,
	  { "udp dport 53 ip saddr 198.51.100.0/24 counter accept # cloud policy group 1 priority 1: resolvers",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 2 PolicyIndex 0: refuse",
	    "udp dport 53 ip saddr 203.0.113.0/24 counter accept # cloud policy group 3 permission 1" },
	  { NULL }, { NULL }, { NULL, NULL }, { NULL, NULL }, SGPOLICY_FORMAT_AUTO, "4" },
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
	for (int f = 0; f < 2; f++) {
		if (!c->public_tcp[f]) {
			assert_true(m->public_dns_tcp[f] == SGPOLICY_NONE);
			continue;
		}
		assert_true(m->public_dns_tcp[f] < p->n_entries);
		assert_prefix(c->public_tcp[f],
			      sgpolicy_entry_format(&p->entries[m->public_dns_tcp[f]], line, sizeof(line)));
	}
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
	assert_int_equal(p->format, c->format);
	if (c->version)
		assert_string_equal(p->version, c->version);
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
	bool tcp4, tcp6;                        /* TCP:53 open to everybody */
};

#define E(idx, proto, port, cidr, action) \
	"{\"PolicyIndex\":" #idx ",\"Protocol\":\"" proto "\",\"Port\":\"" port "\"," \
	"\"CidrBlock\":\"" cidr "\",\"Action\":\"" action "\"}"

#define ALI(prio, proto, ports, cidr, policy) \
	"{\"IpProtocol\":\"" proto "\",\"PortRange\":\"" ports "\",\"SourceCidrIp\":\"" cidr "\"," \
	"\"Policy\":\"" policy "\",\"Priority\":" prio "}"
#define ALIDOC(perms) "{\"SecurityGroupId\":\"sg-1\",\"Permissions\":{\"Permission\":[" perms "]}}"
#define HW(prio, proto, ports, ether, remote, action) \
	"{\"direction\":\"ingress\",\"protocol\":" proto ",\"multiport\":" ports ",\"ethertype\":\"" ether "\"," \
	"\"remote_ip_prefix\":" remote ",\"action\":\"" action "\",\"priority\":" #prio "}"
#define HWDOC(rules) "{\"security_group_rules\":[" rules "]}"
#define AWSP(proto, ports, cidr) \
	"{\"IpProtocol\":" proto "," ports "\"IpRanges\":[{\"CidrIp\":\"" cidr "\"}]}"
#define AWSDOC(perms) "{\"SecurityGroups\":[{\"GroupId\":\"sg-1\",\"IpPermissions\":[" perms "]}]}"

static const struct inline_case inline_cases[] = {
	{ "a drop of 0.0.0.0/0 first shadows a later public accept",
	  "{\"Ingress\":[" E(0, "UDP", "53", "0.0.0.0/0", "DROP") "," E(1, "UDP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 PolicyIndex 0",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1" },
	  0, false, false, false, false },
	{ "a narrower drop does not shadow the public accept",
	  "{\"Ingress\":[" E(0, "UDP", "53", "198.51.100.0/24", "DROP") "," E(1, "ALL", "ALL", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 198.51.100.0/24 counter drop # cloud policy group 1 PolicyIndex 0",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 1" },
	  0, true, false, true, false },
	{ "a public TCP accept is no UDP finding, but a TCP one",
	  "{\"Ingress\":[" E(0, "TCP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP | TCP,
	  { "tcp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 PolicyIndex 0" },
	  0, false, false, true, false },
	{ "TCP:53 is out of scope when only UDP is refused, and still reported",
	  "{\"Ingress\":[" E(0, "TCP", "53", "0.0.0.0/0", "ACCEPT") "]}",
	  UDP, { NULL }, 1, false, false, true, false },
	{ "entries sorted by PolicyIndex, not file order",
	  "{\"Ingress\":[" E(7, "UDP", "53", "10.0.0.0/8", "DROP") "," E(3, "UDP", "53", "10.1.0.0/16", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.1.0.0/16 counter accept # cloud policy group 1 PolicyIndex 3",
	    "udp dport 53 ip saddr 10.0.0.0/8 counter drop # cloud policy group 1 PolicyIndex 7" },
	  0, false, false, false, false },
	{ "any case, ALL with an empty port, host address",
	  "{\"Ingress\":[" E(0, "all", "", "192.0.2.1", "accept") "]}",
	  UDP | TCP,
	  { "udp dport 53 ip saddr 192.0.2.1 counter accept # cloud policy group 1 PolicyIndex 0",
	    "tcp dport 53 ip saddr 192.0.2.1 counter accept # cloud policy group 1 PolicyIndex 0" },
	  0, false, false, false, false },
	{ "ports at the edges of 53",
	  "{\"Ingress\":[" E(0, "UDP", "52", "10.0.0.1", "ACCEPT") "," E(1, "UDP", "54", "10.0.0.2", "ACCEPT") ","
	  E(2, "UDP", "0-53", "10.0.0.3", "ACCEPT") "," E(3, "UDP", "53-65535", "10.0.0.4", "ACCEPT") ","
	  E(4, "UDP", "1,2,3, 53 ,4", "10.0.0.5", "ACCEPT") "]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.3 counter accept # cloud policy group 1 PolicyIndex 2",
	    "udp dport 53 ip saddr 10.0.0.4 counter accept # cloud policy group 1 PolicyIndex 3",
	    "udp dport 53 ip saddr 10.0.0.5 counter accept # cloud policy group 1 PolicyIndex 4" },
	  2, false, false, false, false },
	{ "an empty group refuses everything: no rules",
	  "{\"Version\":\"1\",\"Ingress\":[],\"Egress\":[]}", UDP, { NULL }, 0, false, false, false, false },
	{ "a group without Ingress",
	  "{\"Version\":\"1\"}", UDP, { NULL }, 0, false, false, false, false },
	{ "descriptions are made safe for nft comments",
	  "{\"Ingress\":[{\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"10.0.0.0/8\","
	  "\"Action\":\"ACCEPT\",\"PolicyDescription\":\"say \\\"hi\\\" \\\\ \\n\\u001b[2J \\u4e2d\\u6587 ok\"}]}",
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 PolicyIndex 0: say ?hi? ? ?\?[2J 中文 ok" },
	  0, false, false, false, false },
	/* ---- Alibaba Cloud ---- */
	{ "Alibaba: Drop wins at equal Priority, whatever the file order",
	  ALIDOC(ALI("1", "udp", "53/53", "0.0.0.0/0", "Accept") "," ALI("1", "UDP", "53/53", "0.0.0.0/0", "Drop")),
	  UDP,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 1",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 Priority 1" },
	  0, false, false, false, false },
	{ "Alibaba: lower Priority first, a numeric string, ALL in any case",
	  ALIDOC(ALI("50", "all", "-1/-1", "0.0.0.0/0", "Drop") "," ALI("\"7\"", "Udp", "1/65535", "10.0.0.0/8", "accept")),
	  UDP | TCP,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 1 Priority 7",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 50",
	    "tcp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 50" },
	  0, false, false, false, false },
	{ "Alibaba: port ranges at the edges of 53; ICMP and GRE never reach it",
	  ALIDOC(ALI("1", "UDP", "52/52", "10.0.0.1", "Accept") "," ALI("1", "UDP", "54/100", "10.0.0.2", "Accept") ","
		 ALI("1", "UDP", "1/53", "10.0.0.3", "Accept") "," ALI("1", "ICMP", "-1/-1", "10.0.0.4", "Accept") ","
		 ALI("1", "GRE", "-1/-1", "10.0.0.5", "Accept") "," ALI("1", "UDP", "-1/-1", "10.0.0.6", "Accept")),
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.3 counter accept # cloud policy group 1 Priority 1",
	    "udp dport 53 ip saddr 10.0.0.6 counter accept # cloud policy group 1 Priority 1" },
	  4, false, false, false, false },
	{ "Alibaba: public UDP over IPv6, TCP over IPv4",
	  ALIDOC("{\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"Ipv6SourceCidrIp\":\"::/0\",\"Policy\":\"Accept\",\"Priority\":1},"
		 ALI("1", "TCP", "53/53", "0.0.0.0/0", "Accept")),
	  UDP,
	  { "udp dport 53 ip6 saddr ::/0 counter accept # cloud policy group 1 Priority 1" },
	  1, false, true, true, false },
	{ "Alibaba: the rules of two groups are sorted together",
	  "[" ALIDOC(ALI("90", "UDP", "53/53", "0.0.0.0/0", "Drop")) "," ALIDOC(ALI("2", "UDP", "53/53", "10.0.0.0/8", "Accept")) "]",
	  UDP,
	  { "udp dport 53 ip saddr 10.0.0.0/8 counter accept # cloud policy group 2 Priority 2",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 Priority 90" },
	  0, false, false, false, false },
	{ "Alibaba: egress rules are counted, not mirrored",
	  ALIDOC("{\"Direction\":\"egress\",\"IpProtocol\":\"ALL\",\"PortRange\":\"-1/-1\",\"DestCidrIp\":\"0.0.0.0/0\",\"Policy\":\"Accept\",\"Priority\":1}"),
	  UDP, { NULL }, 0, false, false, false, false },
	/* ---- Huawei Cloud ---- */
	{ "Huawei: deny wins at equal priority, whatever the file order",
	  HWDOC(HW(1, "\"udp\"", "\"53\"", "IPv4", "\"0.0.0.0/0\"", "allow") "," HW(1, "\"udp\"", "\"53\"", "IPv4", "\"0.0.0.0/0\"", "deny")),
	  UDP,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 priority 1",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 priority 1" },
	  0, false, false, false, false },
	{ "Huawei: protocol numbers, multiport lists, empty means all",
	  HWDOC(HW(3, "\"17\"", "\"22,23-30,53\"", "IPv4", "\"10.0.0.1\"", "allow") "," HW(3, "\"6\"", "\"22,8053\"", "IPv4", "\"10.0.0.2\"", "allow") ","
		HW(3, "\"\"", "\"\"", "IPv4", "\"10.0.0.3\"", "allow") "," HW(3, "null", "null", "IPv4", "\"10.0.0.4\"", "allow") ","
		HW(3, "\"icmp\"", "null", "IPv4", "\"10.0.0.5\"", "allow") "," HW(3, "\"tcp\"", "\"1-65535\"", "IPv4", "\"10.0.0.6\"", "allow")),
	  UDP | TCP,
	  { "udp dport 53 ip saddr 10.0.0.1 counter accept # cloud policy group 1 priority 3",
	    "udp dport 53 ip saddr 10.0.0.3 counter accept # cloud policy group 1 priority 3",
	    "tcp dport 53 ip saddr 10.0.0.3 counter accept # cloud policy group 1 priority 3",
	    "udp dport 53 ip saddr 10.0.0.4 counter accept # cloud policy group 1 priority 3",
	    "tcp dport 53 ip saddr 10.0.0.4 counter accept # cloud policy group 1 priority 3",
	    "tcp dport 53 ip saddr 10.0.0.6 counter accept # cloud policy group 1 priority 3" },
	  2, false, false, false, false },
	{ "Huawei: no remote is every address of the ethertype",
	  HWDOC(HW(1, "null", "null", "IPv6", "null", "allow") "," HW(2, "\"udp\"", "\"53\"", "IPv4", "null", "deny")),
	  UDP | TCP,
	  { "udp dport 53 ip6 saddr ::/0 counter accept # cloud policy group 1 priority 1",
	    "tcp dport 53 ip6 saddr ::/0 counter accept # cloud policy group 1 priority 1",
	    "udp dport 53 ip saddr 0.0.0.0/0 counter drop # cloud policy group 1 priority 2" },
	  0, false, true, false, true },
	/* ---- AWS ---- */
	{ "AWS: -1 is every protocol and port; tcp 0-65535 covers 53",
	  AWSDOC(AWSP("\"-1\"", "", "10.0.0.1") "," AWSP("\"tcp\"", "\"FromPort\":0,\"ToPort\":65535,", "10.0.0.2") ","
		 AWSP("\"udp\"", "\"FromPort\":54,\"ToPort\":54,", "10.0.0.3") "," AWSP("\"icmp\"", "\"FromPort\":-1,\"ToPort\":-1,", "10.0.0.4") ","
		 AWSP("\"17\"", "\"FromPort\":53,\"ToPort\":53,", "10.0.0.5") "," AWSP("\"UDP\"", "\"FromPort\":-1,\"ToPort\":-1,", "10.0.0.6")),
	  UDP | TCP,
	  { "udp dport 53 ip saddr 10.0.0.1 counter accept # cloud policy group 1 permission 1",
	    "tcp dport 53 ip saddr 10.0.0.1 counter accept # cloud policy group 1 permission 1",
	    "tcp dport 53 ip saddr 10.0.0.2 counter accept # cloud policy group 1 permission 2",
	    "udp dport 53 ip saddr 10.0.0.5 counter accept # cloud policy group 1 permission 5",
	    "udp dport 53 ip saddr 10.0.0.6 counter accept # cloud policy group 1 permission 6" },
	  2, false, false, false, false },
	{ "AWS: UDP:53 and TCP:53 from everybody are findings",
	  AWSDOC(AWSP("\"-1\"", "", "0.0.0.0/0")),
	  UDP,
	  { "udp dport 53 ip saddr 0.0.0.0/0 counter accept # cloud policy group 1 permission 1" },
	  0, true, false, true, false },
	{ "AWS: a bare SecurityGroup object, no rules: everything refused",
	  "{\"GroupId\":\"sg-1\",\"IpPermissions\":[],\"IpPermissionsEgress\":[]}",
	  UDP, { NULL }, 0, false, false, false, false },
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
	assert_int_equal(m->public_dns_tcp[0] != SGPOLICY_NONE, c->tcp4);
	assert_int_equal(m->public_dns_tcp[1] != SGPOLICY_NONE, c->tcp6);
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
#define G1E1 "Tencent Cloud group 1, ingress entry 1 (PolicyIndex 0): "

#define ALIONE(fields) "{\"SecurityGroupId\":\"sg-1\",\"Permissions\":{\"Permission\":[{" fields "}]}}"
#define A1 "Alibaba Cloud group 1 (sg-1), permission 1 (Priority 1, rule sgr-1): "
#define HWONE(fields) "{\"security_group_rules\":[{\"id\":\"r1\",\"security_group_id\":\"sg-h\"," \
	"\"direction\":\"ingress\"," fields "}]}"
#define H1 "Huawei Cloud group 1 (sg-h), rule 1 (priority 1, id r1): "
#define AWSONE(fields) "{\"SecurityGroups\":[{\"GroupId\":\"sg-w\",\"IpPermissions\":[{" fields "}]}]}"
#define W1 "AWS group 1 (sg-w), permission 1"

static const struct error_case error_cases[] = {
	{ "{", -EINVAL, "not valid JSON: line 1, column 1: *" },
	{ "{\"Ingress\":[],\"Ingress\":[]}", -EINVAL, "not valid JSON: *" },
	{ "53", -EINVAL, "not valid JSON: *" },
	{ "", -EINVAL, "not valid JSON: *" },
	{ "{\"Ingress\":[]} trailing", -EINVAL, "not valid JSON: *" },
	{ "[]", -EINVAL, "an empty list: no security group" },
	{ "[5]", -EINVAL, "document 1: not a JSON object" },
	{ "{\"RequestId\":\"x\"}", -EINVAL, "not a security group export: none of Tencent Cloud "
	  "DescribeSecurityGroupPolicies, Alibaba Cloud DescribeSecurityGroupAttribute, Huawei Cloud "
	  "ListSecurityGroupRules or AWS describe-security-groups" },
	{ "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SecretIdNotFound\",\"Message\":\"The SecretId is not found\"},"
	  "\"RequestId\":\"3c5e\"}}", -EINVAL,
	  "Tencent Cloud group 1: the file holds an API error, not a policy: AuthFailure.SecretIdNotFound: The SecretId is not found" },
	{ "{\"SecurityGroupPolicySet\":[]}", -EINVAL, "Tencent Cloud group 1: SecurityGroupPolicySet: not an object" },
	{ "{\"Ingress\":{}}", -EINVAL, "Tencent Cloud group 1: Ingress: not an array" },
	{ "{\"Ingress\":[],\"Egress\":3}", -EINVAL, "Tencent Cloud group 1: Egress: not an array" },
	{ "{\"Ingress\":[5]}", -EINVAL, "Tencent Cloud group 1, ingress entry 1: not an object" },
	{ ENTRY(OK_PART), -EINVAL, "Tencent Cloud group 1, ingress entry 1: PolicyIndex: missing" },
	{ ENTRY("\"PolicyIndex\":\"0\"," OK_PART), -EINVAL, "Tencent Cloud group 1, ingress entry 1: PolicyIndex: not a whole number" },
	{ ENTRY("\"PolicyIndex\":1.5," OK_PART), -EINVAL, "Tencent Cloud group 1, ingress entry 1: PolicyIndex: not a whole number" },
	{ ENTRY("\"PolicyIndex\":-1," OK_PART), -EINVAL,
	  "Tencent Cloud group 1, ingress entry 1: PolicyIndex \"-1\": out of range (0 to 2147483647)" },
	{ ENTRY("\"PolicyIndex\":2147483648," OK_PART), -EINVAL,
	  "Tencent Cloud group 1, ingress entry 1: PolicyIndex \"2147483648\": out of range (0 to 2147483647)" },
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
	  "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): Port \"53-\": not a port, range or list" },
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
	  "Tencent Cloud group 2, ingress entry 2 (PolicyIndex 4): Action \"ALLOW\": not ACCEPT or DROP" },
	{ ENTRY("\"PolicyIndex\":0,\"Protocol\":\"UDP\",\"Port\":\"53\",\"CidrBlock\":\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"Action\":\"ACCEPT\""),
	  -EINVAL, G1E1 "CidrBlock \"012345678901234567890123456789012345678901234567...\": not an address or prefix" },
	/* ---- Alibaba Cloud ---- */
	{ "{\"RequestId\":\"x\",\"HostId\":\"ecs.aliyuncs.com\",\"Code\":\"InvalidSecurityGroupId.NotFound\","
	  "\"Message\":\"The specified SecurityGroupId does not exist.\"}", -EINVAL,
	  "the file holds an API error, not a policy: InvalidSecurityGroupId.NotFound: The specified SecurityGroupId does not exist." },
	{ "{\"SecurityGroupId\":\"sg-1\",\"Permissions\":5}", -EINVAL, "Alibaba Cloud group 1 (sg-1): Permissions: not an object" },
	{ "{\"SecurityGroupId\":\"sg-1\",\"InnerAccessPolicy\":\"Allow\",\"Permissions\":{}}", -EINVAL,
	  "Alibaba Cloud group 1 (sg-1): InnerAccessPolicy \"Allow\": not Accept or Drop" },
	{ "{\"SecurityGroupId\":\"sg-1\",\"Permissions\":{\"Permission\":{}}}", -EINVAL,
	  "Alibaba Cloud group 1 (sg-1): Permissions.Permission: not an array" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "PortRange \"53\": not FROM/TO (53/53, 1/65535 or -1/-1)" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"-1/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "PortRange \"-1/53\": -1 stands for all ports only as -1/-1" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"60/50\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "PortRange \"60/50\": range starts above its end" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/70000\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "PortRange \"53/70000\": not FROM/TO (53/53, 1/65535 or -1/-1)" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "PortRange: missing for UDP" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"SCTP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "IpProtocol \"SCTP\": not TCP, UDP, ICMP, ICMPv6, GRE or ALL" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1"),
	  -EINVAL, A1 "IpProtocol: missing" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1,\"Policy\":\"Reject\""),
	  -EINVAL, A1 "Policy \"Reject\": not Accept or Drop" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"Priority\":1"),
	  -EINVAL, A1 "SourceCidrIp: missing (and no Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId)" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"Ipv6SourceCidrIp\":\"2001:db8::1/32\",\"Priority\":1"),
	  -EINVAL, A1 "Ipv6SourceCidrIp \"2001:db8::1/32\": host bits set below the prefix length" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":0"),
	  -EINVAL, "Alibaba Cloud group 1 (sg-1), permission 1 (rule sgr-1): Priority \"0\": out of range (1 to 100)" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":\"1x\""),
	  -EINVAL, "Alibaba Cloud group 1 (sg-1), permission 1 (rule sgr-1): Priority \"1x\": not a whole number" },
	{ ALIONE("\"SecurityGroupRuleId\":\"sgr-1\",\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\",\"Priority\":1,\"Direction\":\"both\""),
	  -EINVAL, "Alibaba Cloud group 1 (sg-1), permission 1 (rule sgr-1): Direction \"both\": not ingress or egress" },
	/* ---- Huawei Cloud ---- */
	{ "{\"error_code\":\"VPC.0602\",\"error_msg\":\"Bad request\",\"request_id\":\"r\"}", -EINVAL,
	  "the file holds an API error, not a policy: VPC.0602: Bad request" },
	{ HWONE("\"protocol\":\"udp\",\"multiport\":\"53\",\"ethertype\":\"IPv4\",\"priority\":1,\"remote_ip_prefix\":\"10.0.0.0/8\""),
	  -EINVAL, H1 "action: missing" },
	{ HWONE("\"protocol\":\"udp\",\"multiport\":\"53\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"accept\""),
	  -EINVAL, H1 "action \"accept\": not allow or deny" },
	{ HWONE("\"protocol\":\"udp\",\"multiport\":\"53-\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"allow\""),
	  -EINVAL, H1 "multiport \"53-\": not a port, range or list" },
	{ HWONE("\"protocol\":\"udp\",\"multiport\":\"22,23-30,99999\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"allow\""),
	  -EINVAL, H1 "multiport \"22,23-30,99999\": port above 65535" },
	{ HWONE("\"protocol\":\"sctp\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"allow\""),
	  -EINVAL, H1 "protocol \"sctp\": not tcp, udp, icmp, icmpv6, gre or a protocol number" },
	{ HWONE("\"protocol\":\"256\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"allow\""),
	  -EINVAL, H1 "protocol \"256\": not tcp, udp, icmp, icmpv6, gre or a protocol number" },
	{ HWONE("\"protocol\":\"udp\",\"ethertype\":\"IPv5\",\"priority\":1,\"action\":\"allow\""),
	  -EINVAL, H1 "ethertype \"IPv5\": not IPv4 or IPv6" },
	{ HWONE("\"protocol\":\"udp\",\"ethertype\":\"IPv4\",\"priority\":1,\"action\":\"allow\",\"remote_ip_prefix\":\"::/0\""),
	  -EINVAL, H1 "remote_ip_prefix \"::/0\": not IPv4, as its ethertype IPv4 says" },
	{ HWONE("\"protocol\":\"udp\",\"ethertype\":\"IPv4\",\"priority\":101,\"action\":\"allow\""),
	  -EINVAL, "Huawei Cloud group 1 (sg-h), rule 1 (id r1): priority \"101\": out of range (1 to 100)" },
	{ HWONE("\"protocol\":\"udp\",\"ethertype\":\"IPv4\",\"action\":\"allow\""),
	  -EINVAL, "Huawei Cloud group 1 (sg-h), rule 1 (id r1): priority: missing (a VPC v3 export has it)" },
	{ "{\"security_group_rules\":[{\"id\":\"r1\",\"security_group_id\":\"sg-h\",\"protocol\":\"udp\"}]}",
	  -EINVAL, "Huawei Cloud group 1 (sg-h), rule 1 (id r1): direction: missing" },
	{ "{\"security_group_rules\":[{\"id\":\"r1\",\"security_group_id\":\"sg-a\",\"direction\":\"egress\"},"
	  "{\"id\":\"r2\",\"security_group_id\":\"sg-b\",\"direction\":\"egress\"}]}", -EINVAL,
	  "Huawei Cloud group 1 (sg-a): security_group_id: rules of several security groups in one document: export one "
	  "group per document (ListSecurityGroupRules --security_group_id) and list them in the instance's order" },
	{ "{\"security_group\":[]}", -EINVAL, "Huawei Cloud: security_group: not an object" },
	/* ---- AWS ---- */
	{ "{\"SecurityGroups\":{}}", -EINVAL, "AWS: SecurityGroups: not an array" },
	{ "{\"SecurityGroups\":[]}", -EINVAL, "AWS: SecurityGroups: empty: no security group" },
	{ "[{\"Ingress\":[]},{\"SecurityGroups\":[]}]", -EINVAL, "document 2 (AWS): SecurityGroups: empty: no security group" },
	{ "{\"SecurityGroups\":[5]}", -EINVAL, "AWS group 1: not an object" },
	{ AWSONE("\"IpProtocol\":\"sctp\",\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]"), -EINVAL,
	  W1 ": IpProtocol \"sctp\": not tcp, udp, icmp, icmpv6, -1 or a protocol number" },
	{ AWSONE("\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]"), -EINVAL, W1 ": IpProtocol: missing" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]"), -EINVAL, W1 ": FromPort: missing for UDP" },
	{ AWSONE("\"IpProtocol\":\"tcp\",\"FromPort\":53,\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"}]"), -EINVAL,
	  W1 ": ToPort: missing for TCP" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":70000,\"ToPort\":70000,\"IpRanges\":[]"), -EINVAL,
	  W1 ": FromPort \"70000\": out of range (-1 to 65535)" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":\"53\",\"ToPort\":53,\"IpRanges\":[]"), -EINVAL,
	  W1 ": FromPort: not a whole number" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":60,\"ToPort\":50,\"IpRanges\":[]"), -EINVAL,
	  W1 ": ToPort \"50\": not a range with FromPort" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":53,\"ToPort\":53,\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/8\"},{\"CidrIp\":\"10.0.0.0/33\"}]"),
	  -EINVAL, W1 ", IpRanges 2: CidrIp \"10.0.0.0/33\": prefix length out of range" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":53,\"ToPort\":53,\"Ipv6Ranges\":[{\"CidrIpv6\":\"10.0.0.0/8\"}]"),
	  -EINVAL, W1 ", Ipv6Ranges 1: CidrIpv6 \"10.0.0.0/8\": not IPv6" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":53,\"ToPort\":53,\"IpRanges\":[{\"Description\":\"x\"}]"),
	  -EINVAL, W1 ", IpRanges 1: CidrIp: missing" },
	{ AWSONE("\"IpProtocol\":\"udp\",\"FromPort\":53,\"ToPort\":53,\"PrefixListIds\":[7]"),
	  -EINVAL, W1 ": PrefixListIds: holds a non-object" },
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

/* Chinese descriptions stay Chinese, and a cut for the kernel's comment
 * limit (or the kept text's) never splits a character. */
static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;

		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static void test_utf8(void **state)
{
	/* 60 times "中文" (3 bytes each): 360 bytes, over every limit. */
	char desc[400] = "", json[1024], text[8];
	struct sgpolicy *p;
	struct sgpolicy_mirror *m = NULL;
	struct ruleset *rs = NULL;
	struct ruleset_params params = { 0 };
	char err[256], line[SGPOLICY_LINE_MAX];
	const char *prefix = "cloud policy group 1 Priority 1: ";
	size_t len;

	(void)state;
	for (int i = 0; i < 60; i++)
		strcat(desc, "\u4e2d\u6587");
	snprintf(json, sizeof(json), ALIDOC("{\"IpProtocol\":\"UDP\",\"PortRange\":\"53/53\",\"SourceCidrIp\":\"10.0.0.0/8\","
					    "\"Policy\":\"Drop\",\"Priority\":1,\"Description\":\"%s\"}"), desc);
	p = parse_ok(json, strlen(json));
	assert_int_equal(strlen(p->entries[0].description), 126);  /* 42 characters: 127 would split one */
	assert_true(valid_utf8(p->entries[0].description));
	assert_int_equal(sgpolicy_mirror_new(p, UDP, &m), 0);
	len = strlen(m->rules[0].comment);
	assert_true(len <= RULESET_COMMENT_MAX);
	assert_true(len > RULESET_COMMENT_MAX - 3);     /* cut only as far as a character needs */
	assert_true(valid_utf8(m->rules[0].comment));
	assert_prefix(prefix, m->rules[0].comment);
	assert_int_equal((len - strlen(prefix)) % 3, 0);
	assert_prefix("Alibaba Cloud group 1 (sg-1), permission 1 (Priority 1): UDP:53/53 from 10.0.0.0/8 DROP (\u4e2d\u6587",
		      sgpolicy_entry_format(&p->entries[0], line, sizeof(line)));
	params.rules = m->rules;
	params.n_rules = m->n_rules;
	if (ruleset_new(&params, &rs, err, sizeof(err)) != 0)
		fail_msg("ruleset_new: %s", err);
	ruleset_free(rs);
	sgpolicy_mirror_free(m);
	sgpolicy_free(p);

	/* Unsafe characters in valid UTF-8 are replaced, one '?' each. */
	sgpolicy_text(line, sizeof(line), "a\u202eb\u200fc\xc2\x85" "d\xef\xbb\xbf" "e");
	assert_string_equal(line, "a?b?c?d?e");
	/* Invalid sequences (the API never sends them, a hand-made file may):
	 * one '?' per broken sequence, never a raw byte. */
	sgpolicy_text(line, sizeof(line), "x\xe4\xb8y\xff\xfez\xc0\xafw\xed\xa0\x80v");
	assert_string_equal(line, "x?y??z?w?v");
	/* A cut in the middle of a character drops all of it. */
	sgpolicy_text(text, sizeof(text), "ab\u4e2d\u6587");
	assert_string_equal(text, "ab\u4e2d");
	sgpolicy_text(text, 5, "ab\u4e2d");
	assert_string_equal(text, "ab");
}

/* policy_format forces a provider; a document of another shape is an error. */
static void test_forced_format(void **state)
{
	static const char tencent[] = "{\"Ingress\":[" E(0, "UDP", "53", "10.0.0.0/8", "ACCEPT") "]}";
	static const char alibaba[] = ALIDOC(ALI("1", "UDP", "53/53", "10.0.0.0/8", "Accept"));
	struct sgpolicy *p = NULL;
	char err[512] = "", list[512];
	enum sgpolicy_format f;

	(void)state;
	assert_int_equal(sgpolicy_parse_format(tencent, strlen(tencent), SGPOLICY_FORMAT_TENCENT, &p, err, sizeof(err)), 0);
	assert_int_equal(p->format, SGPOLICY_FORMAT_TENCENT);
	sgpolicy_free(p);
	p = NULL;
	assert_int_equal(sgpolicy_parse_format(tencent, strlen(tencent), SGPOLICY_FORMAT_ALIBABA, &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	assert_string_equal(err, "policy_format is alibaba, but this is no DescribeSecurityGroupAttribute export (no Permissions)");
	snprintf(list, sizeof(list), "[%s,%s]", alibaba, tencent);
	assert_int_equal(sgpolicy_parse_format(list, strlen(list), SGPOLICY_FORMAT_ALIBABA, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "document 2: policy_format is alibaba, but this is no DescribeSecurityGroupAttribute "
			    "export (no Permissions)");
	assert_int_equal(sgpolicy_parse_format(alibaba, strlen(alibaba), SGPOLICY_FORMAT_HUAWEI, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "policy_format is huawei, but this is no ListSecurityGroupRules export (no security_group_rules)");
	assert_int_equal(sgpolicy_parse_format(alibaba, strlen(alibaba), SGPOLICY_FORMAT_AWS, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "policy_format is aws, but this is no describe-security-groups export (no SecurityGroups or IpPermissions)");
	assert_int_equal(sgpolicy_parse_format(list, strlen(list), SGPOLICY_FORMAT_AUTO, &p, err, sizeof(err)), 0);
	assert_int_equal(p->format, SGPOLICY_FORMAT_AUTO);
	assert_int_equal(p->n_groups, 2);
	sgpolicy_free(p);
	for (unsigned i = 0; i < _SGPOLICY_FORMAT_MAX; i++) {
		assert_int_equal(sgpolicy_format_from_string(sgpolicy_format_name((enum sgpolicy_format)i), &f), 0);
		assert_int_equal(f, i);
	}
	assert_int_equal(sgpolicy_format_from_string("Tencent", &f), -EINVAL);
	assert_int_equal(sgpolicy_format_from_string("", &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_long_description),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_forced_format),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
