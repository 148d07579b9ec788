/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The desired nftables table as plain data. Pure: no I/O, no globals, so
 * unit tests and the dry run drive it directly and rules/nft turns it into
 * one netlink batch.
 *
 *   table inet port53guard {
 *     set allow4 { type ipv4_addr; flags interval; }   merged allow prefixes
 *     set allow6 { type ipv6_addr; flags interval; }
 *     set internal { type ifname; }                    host-internal interfaces
 *     chain ingress {
 *       type filter hook prerouting priority -300; policy accept;
 *       udp dport 53 jump dns                          (and tcp dport 53)
 *     }
 *     chain dns {
 *       <rules, in order>
 *     }
 *   }
 *
 * The dns chain's rules are: loopback accepted, packets not addressed to
 * this host accepted (fib daddr type != local: routed, forwarded), the
 * internal interfaces accepted, one accept per exempt interface, the allow
 * sets accepted (UDP, and TCP when refused), the caller's policy rules,
 * then the refuse: UDP (and TCP) dropped from every source, with a counter.
 * Only what the cloud rule would see is refused: DNS from outside,
 * addressed to the host itself.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cidr.h"

#define RULESET_TABLE "port53guard"
#define RULESET_CHAIN "ingress"         /* the base chain: dispatches port 53 */
#define RULESET_CHAIN_DNS "dns"         /* the decisions, for port-53 packets only */
#define RULESET_SET_INTERNAL "internal"
/* Raw priority: before conntrack (no entries for dropped floods) and DNAT
 * (ports published for containers are covered too). */
#define RULESET_CHAIN_PRIORITY (-300)
#define RULESET_DNS_PORT 53
/* nft refuses longer comments (128 bytes with the NUL). */
#define RULESET_COMMENT_MAX 127
/* Longest text ruleset_rule_format() writes, NUL included. */
#define RULESET_RULE_STRLEN 320
/* Longest text ruleset_range_format() writes, NUL included. */
#define RULESET_RANGE_STRLEN (2 * 46 + 2)

#define RULESET_COMMENT_REFUSE_UDP "UDP:53 from 0.0.0.0/0 and ::/0: refuse (mirrors the cloud rule)"
#define RULESET_COMMENT_JUMP_UDP "UDP:53: the port the cloud rule filters; every other packet passes here"
#define RULESET_COMMENT_JUMP_TCP "TCP:53: the port the cloud rule filters, for TCP"
#define RULESET_COMMENT_NOT_LOCAL "not addressed to this host (routed, forwarded): the cloud rule never sees it"
#define RULESET_COMMENT_INTERNAL "from a host-internal interface (container or VM network): the cloud never sees it"
#define RULESET_COMMENT_REFUSE_TCP "TCP:53 from 0.0.0.0/0 and ::/0: refuse (mirrors the cloud rule, for TCP)"

/* Protocol masks: a rule matches "PROTO dport 53"; 0 matches any packet. */
#define RULESET_PROTO_UDP 0x1u
#define RULESET_PROTO_TCP 0x2u

enum ruleset_set_id {
	RULESET_SET_ALLOW4,
	RULESET_SET_ALLOW6,
	RULESET_N_SETS,
};

enum ruleset_match {
	RULESET_MATCH_ANY,      /* every packet of the protocol */
	RULESET_MATCH_NOT_LOCAL,        /* fib daddr type != local */
	RULESET_MATCH_INTERNAL,         /* iifname @internal */
	RULESET_MATCH_IIF_LO,   /* iif "lo" */
	RULESET_MATCH_IIFNAME,  /* iifname "X"; "X*" matches names starting with X */
	RULESET_MATCH_SET,      /* ip saddr @allow4 or ip6 saddr @allow6 */
	RULESET_MATCH_CIDR,     /* ip saddr PREFIX or ip6 saddr PREFIX */
};

enum ruleset_verdict {
	RULESET_ACCEPT,
	RULESET_DROP,
	RULESET_JUMP,           /* jump dns: only in the ingress chain */
};

struct ruleset_rule {
	/* RULESET_PROTO_* mask. In params a rule with both bits stands for
	 * two rules (UDP, then TCP); in a built ruleset at most one is set. */
	unsigned protos;
	/* In the dns chain the jump has matched port 53 already, so a protocol
	 * is only "meta l4proto udp"; otherwise it is "udp dport 53". */
	bool port_checked;
	enum ruleset_match match;
	char ifname[IFNAMSIZ];          /* RULESET_MATCH_IIFNAME */
	enum ruleset_set_id set;        /* RULESET_MATCH_SET */
	struct cidr cidr;               /* RULESET_MATCH_CIDR */
	enum ruleset_verdict verdict;
	bool counter;
	char comment[RULESET_COMMENT_MAX + 1];  /* what the rule mirrors */
};

/* An inclusive address range in network byte order; an IPv4 range uses the
 * first 4 bytes and keeps the rest zero. */
struct ruleset_range {
	uint8_t start[16];
	uint8_t end[16];
};

struct ruleset_set {
	const char *name;               /* "allow4", "allow6" */
	int family;                     /* AF_INET, AF_INET6 */
	/* Sorted, disjoint and never adjacent: overlapping and touching
	 * prefixes are merged, so the kernel never sees an overlap. */
	struct ruleset_range *ranges;
	size_t n_ranges;
};

struct ruleset {
	struct ruleset_set sets[RULESET_N_SETS];
	struct ruleset_rule *ingress;   /* the base chain's dispatch rules */
	size_t n_ingress;
	struct ruleset_rule *rules;     /* the dns chain */
	size_t n_rules;
	/* The elements of set "internal": interface names, sorted, unique.
	 * Kept current by the agent with ruleset_set_internal(). */
	char (*internal)[IFNAMSIZ];
	size_t n_internal;
	unsigned protos;                /* RULESET_PROTO_* refused */
};

struct ruleset_params {
	bool tcp;                       /* refuse TCP:53 too; UDP:53 always */
	const struct cidr *allow;       /* both families, any order, overlaps fine */
	size_t n_allow;
	char *const *exempt;            /* interface names; "X*" for a prefix */
	size_t n_exempt;
	/* Rules placed after the allow sets and before the refuse, in order
	 * (a cloud policy's own ACCEPT and DROP rules). */
	const struct ruleset_rule *rules;
	size_t n_rules;
};

/* Builds the desired table. Returns 0, -ENOMEM, or -EINVAL with a short
 * reason in errbuf (an interface name or rule the kernel could not take).
 * *ret is set only on success; free it with ruleset_free(). */
int ruleset_new(const struct ruleset_params *p, struct ruleset **ret, char *errbuf, size_t errlen);
void ruleset_free(struct ruleset *rs);

/* Replaces the internal set's elements with names (any order, duplicates
 * fine; exact names only, no "*"). 0, -ENOMEM, or -EINVAL with the name in
 * errbuf; rs is unchanged on failure. */
int ruleset_set_internal(struct ruleset *rs, const char *const *names, size_t n, char *errbuf,
			 size_t errlen);

/* Whether the internal set holds exactly these names (sorted and unique,
 * as ruleset_set_internal() keeps them). */
bool ruleset_internal_equal(const struct ruleset *rs, const char (*names)[IFNAMSIZ], size_t n);

/* Merges the prefixes of one family (others in `in` are skipped) into
 * sorted, disjoint, non-adjacent ranges. *ret (NULL when empty, free()
 * it) and *ret_n are set only on success. */
int ruleset_merge(const struct cidr *in, size_t n, int family, struct ruleset_range **ret,
		  size_t *ret_n);

/* Sorts ranges of one family by start and merges overlapping and touching
 * ones in place; returns the new count. For ranges read back from the
 * kernel, so they compare with ruleset_merge()'s. */
size_t ruleset_normalize(struct ruleset_range *r, size_t n, int family);

/* Whether addr (4 or 16 bytes as the set's family, network order) lies in
 * one of the set's ranges: a binary search, cheap enough for every packet. */
bool ruleset_set_contains(const struct ruleset_set *s, const uint8_t *addr);

/* Whether the range is exactly one prefix; *ret (optional) gets it. */
bool ruleset_range_prefix(int family, const struct ruleset_range *r, struct cidr *ret);

/* "10.0.0.1", "10.0.0.0/8" or "10.0.0.0-10.0.2.255", as nft reads them. */
char *ruleset_range_format(int family, const struct ruleset_range *r, char *buf, size_t len);

/* One rule in nft syntax without its comment, e.g. "udp dport 53 counter drop". */
char *ruleset_rule_format(const struct ruleset_rule *r, char *buf, size_t len);

/* "allow4" or "allow6". */
const char *ruleset_set_name(enum ruleset_set_id id);

/* Writes the whole table as an nft script that replaces the table in one
 * transaction, as nft_apply() does: "nft -f" loads the same table. Returns 0
 * or -EIO when the stream failed. */
int ruleset_format_nft(const struct ruleset *rs, FILE *out);
