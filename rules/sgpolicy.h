/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A cloud security group's inbound policy, as Tencent Cloud's
 * DescribeSecurityGroupPolicies returns it, and what it means for DNS.
 *
 * The input is the whole API response ({"Response": {...}}), what tccli
 * prints ({"SecurityGroupPolicySet": {...}, "RequestId": ...}), a bare
 * SecurityGroupPolicySet ({"Version", "Ingress", "Egress"}), or a JSON array
 * of any of these: the groups bound to one instance, in their binding order.
 *
 * The cloud evaluates the entries of a group by PolicyIndex, the groups one
 * after the other, and the first entry that matches decides; what matches no
 * entry is refused. sgpolicy_mirror_new() turns that into ruleset rules for
 * port 53: the entries that can match UDP:53 (and TCP:53 when refused), in
 * the same order, each as one source-prefix rule with its verdict. The
 * ruleset's final refuse is the policy's implicit one.
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
/* Texts kept from the file (descriptions, template ids), NUL included. */
#define SGPOLICY_TEXT_MAX 128
/* Port text kept for messages, NUL included. */
#define SGPOLICY_PORT_MAX 32
/* Longest text the *_format() functions write, NUL included. */
#define SGPOLICY_LINE_MAX 640
/* sgpolicy_mirror.public_dns when the family is not open. */
#define SGPOLICY_NONE SIZE_MAX

enum sgpolicy_proto {
	SGPOLICY_PROTO_ALL,
	SGPOLICY_PROTO_TCP,
	SGPOLICY_PROTO_UDP,
	SGPOLICY_PROTO_ICMP,
	SGPOLICY_PROTO_ICMPV6,
	SGPOLICY_PROTO_GRE,
};

enum sgpolicy_action {
	SGPOLICY_ACCEPT,
	SGPOLICY_DROP,
};

/* One ingress entry the host can mirror. Texts are sanitised when read:
 * printable ASCII without quotes or backslashes, so they fit an nft comment
 * and a terminal as they are. */
struct sgpolicy_entry {
	unsigned group;                 /* 1-based place of the group in the file */
	unsigned position;              /* 1-based place in the group's Ingress list */
	int64_t index;                  /* PolicyIndex */
	enum sgpolicy_proto proto;
	bool port_dns;                  /* Port covers 53 (TCP, UDP and ALL only) */
	char port[SGPOLICY_PORT_MAX];   /* as written, for messages; "" when none */
	struct cidr sources[2];         /* CidrBlock, Ipv6CidrBlock: one or both */
	size_t n_sources;
	enum sgpolicy_action action;
	char description[SGPOLICY_TEXT_MAX];
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
	unsigned group, position;       /* UNRESOLVED: as in sgpolicy_entry */
	int64_t index;
	enum sgpolicy_action action;
	char description[SGPOLICY_TEXT_MAX];
	char reference[SGPOLICY_TEXT_MAX];      /* "address template ipm-2uw6ujo6" */
	size_t count;                   /* EGRESS: entries ignored in all groups */
};

struct sgpolicy {
	size_t n_groups;
	/* Evaluation order: group, then PolicyIndex, then place in the file. */
	struct sgpolicy_entry *entries;
	size_t n_entries;
	struct sgpolicy_warning *warnings;      /* file order; EGRESS last */
	size_t n_warnings;
	size_t n_skipped;                       /* the UNRESOLVED warnings */
};

/* Parses one export. Returns 0, -ENOMEM, -EFBIG (over SGPOLICY_MAX_SIZE) or
 * -EINVAL with one line in errbuf naming the group, the entry (place and
 * PolicyIndex) and the field, e.g.
 *   group 1, ingress entry 3 (PolicyIndex 2): Port "53-": not a port, range or list
 * *ret is set only on success; free it with sgpolicy_free(). */
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
};

/* protos: RULESET_PROTO_* refused; UDP is always included. Returns 0 or
 * -ENOMEM; *ret is set only on success. The mirror refers to p's entries
 * by index: keep p while using them together. */
int sgpolicy_mirror_new(const struct sgpolicy *p, unsigned protos, struct sgpolicy_mirror **ret);
void sgpolicy_mirror_free(struct sgpolicy_mirror *m);

/* Whether the policy accepts UDP:53 from 0.0.0.0/0 or ::/0. */
bool sgpolicy_mirror_public_dns(const struct sgpolicy_mirror *m);

/* "group 1, ingress entry 3 (PolicyIndex 2): TCP:22 from 0.0.0.0/0 ACCEPT (SSH)" */
char *sgpolicy_entry_format(const struct sgpolicy_entry *e, char *buf, size_t len);
/* One line saying what was skipped or ignored and what that changes. */
char *sgpolicy_warning_format(const struct sgpolicy_warning *w, char *buf, size_t len);
/* What the warning changes on this host compared with the cloud. */
const char *sgpolicy_warning_effect(const struct sgpolicy_warning *w);

const char *sgpolicy_proto_name(enum sgpolicy_proto p);
const char *sgpolicy_action_name(enum sgpolicy_action a);
