/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A cloud security group's inbound rules, as the provider's own API exports
 * them, and what they mean for DNS. One model, one importer per provider
 * (rules/sgpolicy-<provider>.c), the format found from the document's shape:
 *
 *   Tencent Cloud  DescribeSecurityGroupPolicies: {"Response": {...}}, what
 *                  tccli prints, or a bare SecurityGroupPolicySet.
 *                  Evaluated by PolicyIndex, first match.
 *   Alibaba Cloud  ECS DescribeSecurityGroupAttribute: Permissions.Permission[].
 *                  Lower Priority first, Drop before Accept at equal
 *                  Priority; the rules of several groups are pooled.
 *   Huawei Cloud   VPC v3 ListSecurityGroupRules: security_group_rules[] (or
 *                  ShowSecurityGroup's security_group). Lower priority first,
 *                  deny before allow at equal priority.
 *   AWS            EC2 describe-security-groups: SecurityGroups[].IpPermissions[].
 *                  Allow only, order free, several groups combine.
 *
 * A JSON array of documents holds the groups bound to one instance, in
 * their binding order (any mix of the above). What matches no rule is
 * refused, as in every one of these clouds. sgpolicy_mirror_new() turns
 * the result into ruleset rules for port 53 in evaluation order, each with
 * its verdict; the ruleset's final refuse is the policy's implicit one.
 *
 * Pure: no I/O, no globals. Errors come back as one line in the caller's
 * buffer; warnings and findings come back as data.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "ruleset.h"

/* Bounds on hostile input. The cloud allows far fewer entries per group. */
#define SGPOLICY_MAX_SIZE (8u << 20)
#define SGPOLICY_MAX_GROUPS 64
#define SGPOLICY_MAX_ENTRIES 20000      /* ingress entries, all groups */
/* Texts kept from the file (descriptions, references), NUL included; UTF-8
 * is kept, cut at a character boundary. */
#define SGPOLICY_TEXT_MAX 128
/* Group and rule ids kept for messages, NUL included. */
#define SGPOLICY_ID_MAX 80
/* Port text kept for messages, NUL included. */
#define SGPOLICY_PORT_MAX 32
/* Longest text the *_format() functions write, NUL included. */
#define SGPOLICY_LINE_MAX 768
/* sgpolicy_mirror.public_dns when the family is not open. */
#define SGPOLICY_NONE SIZE_MAX

/* Which export a document is; AUTO asks the parser to tell by its shape. */
enum sgpolicy_format {
	SGPOLICY_FORMAT_AUTO,
	SGPOLICY_FORMAT_TENCENT,
	SGPOLICY_FORMAT_ALIBABA,
	SGPOLICY_FORMAT_HUAWEI,
	SGPOLICY_FORMAT_AWS,
	_SGPOLICY_FORMAT_MAX,
};

enum sgpolicy_proto {
	SGPOLICY_PROTO_ALL,
	SGPOLICY_PROTO_TCP,
	SGPOLICY_PROTO_UDP,
	SGPOLICY_PROTO_ICMP,
	SGPOLICY_PROTO_ICMPV6,
	SGPOLICY_PROTO_GRE,
	SGPOLICY_PROTO_OTHER,           /* any other IP protocol number */
};

enum sgpolicy_action {
	SGPOLICY_ACCEPT,
	SGPOLICY_DROP,
};

/* One ingress rule the host can mirror (or, in a warning, one it cannot).
 * Texts are sanitised when read: valid, printable UTF-8 without quotes,
 * backslashes or control characters, so they fit an nft comment, a log
 * field and a terminal as they are. */
struct sgpolicy_entry {
	enum sgpolicy_format provider;
	unsigned group;                 /* 1-based place of the group in the file */
	unsigned position;              /* 1-based place in the group's rule list */
	unsigned sub;                   /* AWS: 1-based place in IpRanges/Ipv6Ranges; else 0 */
	bool sub_v6;                    /* AWS: sub counts Ipv6Ranges */
	bool has_index;
	int64_t index;                  /* PolicyIndex, Priority or priority; 0 for AWS */
	char group_id[SGPOLICY_ID_MAX]; /* "sg-bp1..." where the export names it */
	char rule_id[SGPOLICY_ID_MAX];  /* Huawei id, Alibaba SecurityGroupRuleId */
	enum sgpolicy_proto proto;
	bool port_dns;                  /* port covers 53 (TCP, UDP and ALL only) */
	char port[SGPOLICY_PORT_MAX];   /* as written, for messages; "" when none */
	struct cidr sources[2];         /* one or both families */
	size_t n_sources;
	enum sgpolicy_action action;
	char description[SGPOLICY_TEXT_MAX];
	unsigned rank;                  /* evaluation order of the group (pooled groups share it) */
};

enum sgpolicy_warning_kind {
	/* An entry names an address or service template or another security
	 * group: only the cloud knows what those hold, so it is skipped. */
	SGPOLICY_WARN_UNRESOLVED,
	/* Outbound entries exist; only inbound ones are mirrored. */
	SGPOLICY_WARN_EGRESS,
};

struct sgpolicy_warning {
	enum sgpolicy_warning_kind kind;
	struct sgpolicy_entry entry;    /* UNRESOLVED: the rule, without sources */
	char reference[SGPOLICY_TEXT_MAX];      /* "address template ipm-2uw6ujo6" */
	size_t count;                   /* EGRESS: entries ignored in all groups */
};

struct sgpolicy {
	size_t n_groups;
	/* The provider of every group, or AUTO when the file mixes them. */
	enum sgpolicy_format format;
	/* The provider's version of the policy where it has one (Tencent's
	 * Version), one per group that has it, comma separated; "" when none. */
	char version[SGPOLICY_TEXT_MAX];
	/* Evaluation order: see the top of this file. */
	struct sgpolicy_entry *entries;
	size_t n_entries;
	struct sgpolicy_warning *warnings;      /* file order; EGRESS last */
	size_t n_warnings;
	size_t n_skipped;                       /* the UNRESOLVED warnings */
};

/* Parses one file. Returns 0, -ENOMEM, -EFBIG (over SGPOLICY_MAX_SIZE) or
 * -EINVAL with one line in errbuf naming the provider, the group, the rule
 * (place, priority or index, id) and the field with its value, e.g.
 *   Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): Port "53-": not a port, range or list
 *   Alibaba Cloud group 1 (sg-bp1...), permission 2 (Priority 1, rule sgr-...): PortRange "53": not FROM/TO
 * format AUTO tells each document's provider from its shape; any other
 * value requires that provider. *ret is set only on success; free it with
 * sgpolicy_free(). */
int sgpolicy_parse_format(const void *data, size_t len, enum sgpolicy_format format,
			  struct sgpolicy **ret, char *errbuf, size_t errlen);
/* sgpolicy_parse_format() with SGPOLICY_FORMAT_AUTO. */
int sgpolicy_parse(const void *data, size_t len, struct sgpolicy **ret, char *errbuf, size_t errlen);
void sgpolicy_free(struct sgpolicy *p);

/* The policy for port 53 as ruleset rules, with what did not make it. */
struct sgpolicy_mirror {
	/* For ruleset_params.rules, in evaluation order: one per source and
	 * protocol of each entry that can match UDP:53 or TCP:53 (of the
	 * protocols asked for), with the entry's verdict, a counter, and a
	 * comment naming the group, the PolicyIndex and the description. */
	struct ruleset_rule *rules;
	size_t n_rules;
	/* Entries that cannot match port 53 of those protocols (TCP:22, ICMP,
	 * ...): indexes into sgpolicy.entries. */
	size_t *out_of_scope;
	size_t n_out_of_scope;
	/* The entry (index into sgpolicy.entries) that accepts UDP:53 from
	 * 0.0.0.0/0 [0] or ::/0 [1] before any entry drops it from there, or
	 * SGPOLICY_NONE: the cloud answers DNS for everybody. */
	size_t public_dns[2];
	/* The same for TCP:53, whether or not TCP is refused here. */
	size_t public_dns_tcp[2];
};

/* protos: RULESET_PROTO_* refused; UDP is always included. Returns 0 or
 * -ENOMEM; *ret is set only on success. The mirror refers to p's entries
 * by index: keep p while using them together. */
int sgpolicy_mirror_new(const struct sgpolicy *p, unsigned protos, struct sgpolicy_mirror **ret);
void sgpolicy_mirror_free(struct sgpolicy_mirror *m);

/* Whether the policy accepts UDP:53 from 0.0.0.0/0 or ::/0. */
bool sgpolicy_mirror_public_dns(const struct sgpolicy_mirror *m);

/* "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2)": where the rule is. */
char *sgpolicy_entry_where(const struct sgpolicy_entry *e, char *buf, size_t len);
/* "Tencent Cloud group 1, ingress entry 3 (PolicyIndex 2): TCP:22 from 0.0.0.0/0 ACCEPT (SSH)" */
char *sgpolicy_entry_format(const struct sgpolicy_entry *e, char *buf, size_t len);
/* One line saying what was skipped or ignored and what that changes. */
char *sgpolicy_warning_format(const struct sgpolicy_warning *w, char *buf, size_t len);
/* What the warning changes on this host compared with the cloud. */
const char *sgpolicy_warning_effect(const struct sgpolicy_warning *w);

/* "auto", "tencent", "alibaba", "huawei", "aws": the policy_format values. */
const char *sgpolicy_format_name(enum sgpolicy_format f);
/* "Tencent Cloud", "Alibaba Cloud", "Huawei Cloud", "AWS". */
const char *sgpolicy_format_title(enum sgpolicy_format f);
/* 0 or -EINVAL. */
int sgpolicy_format_from_string(const char *s, enum sgpolicy_format *ret);

/* Copies src into dst (size bytes with the NUL) as sanitised text: valid,
 * printable UTF-8 is kept, quotes, backslashes, control characters and
 * invalid or unsafe sequences become '?', and a cut never splits a
 * character. */
void sgpolicy_text(char *dst, size_t size, const char *src);

const char *sgpolicy_proto_name(enum sgpolicy_proto p);
const char *sgpolicy_action_name(enum sgpolicy_action a);
