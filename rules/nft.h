/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The ruleset in the kernel: one nftables table, "inet port53guard",
 * written over netlink (libnftnl messages, libmnl socket) in single
 * transactions and read back for status, counters and drift repair.
 *
 * Only this table is ever touched. Every function returns 0 or a negative
 * errno; where errbuf is given it receives one short line naming the object
 * that failed and the kernel's reason, e.g.
 *   "rule 5 (udp dport 53 counter drop): Operation not supported"
 * Errors worth knowing:
 *   -EPERM       no CAP_NET_ADMIN, or the table is owned by another process
 *   -EOPNOTSUPP, -ENOENT   a kernel feature or module is missing (named)
 *   -EMSGSIZE    the batch does not fit the socket buffer even grown
 *   -ENOBUFS     acknowledgements were lost: the outcome is unknown
 *   -EBUSY       the table kept being replaced, or every dump of one of its
 *                objects was interrupted by commits, while it was read
 *                (retried first)
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

struct nft_handle;

/* Opens a NETLINK_NETFILTER socket with extended acks. Needs no privilege
 * itself; every request later needs CAP_NET_ADMIN in the network namespace
 * the socket was opened in. */
int nft_open(struct nft_handle **ret);
void nft_close(struct nft_handle *h);

/* The socket's netlink port id: the kernel puts it in the header of the
 * NEWGEN event of every transaction this handle commits, which tells our
 * own changes from others' (the pid in that event is the global pid, so it
 * cannot be compared with getpid() inside a pid namespace). */
uint32_t nft_portid(const struct nft_handle *h);

/* Table flags for nft_apply(). */
#define NFT_APPLY_OWNER   0x1u  /* only this socket may change the table, "flush ruleset"
				   skips it; the kernel deletes it when the socket closes */
#define NFT_APPLY_PERSIST 0x2u  /* with OWNER: the table outlives the socket (Linux 6.9) */

/* Replaces the table with rs in one transaction: create (if missing),
 * delete, create with chain, sets, elements and rules. Applying twice
 * leaves one table; there is never a moment without rules; on failure the
 * previous table (or its absence) is left exactly as it was. */
int nft_apply(struct nft_handle *h, const struct ruleset *rs, unsigned flags, char *errbuf,
	      size_t errlen);

/* Replaces the elements of set "internal" with rs->internal in one
 * transaction (flush, add): no table replace, counters kept. -ENOENT when
 * the table or set is missing (then apply the whole table). */
int nft_set_internal(struct nft_handle *h, const struct ruleset *rs, char *errbuf, size_t errlen);

/* Takes over the table with the given handle as it is (objects and
 * counters kept), with the flags OWNER and PERSIST: the kernel allows it
 * for an orphaned table, i.e. one whose owning socket has closed while
 * PERSIST kept the table (Linux 6.9). -EOPNOTSUPP for a table without
 * PERSIST, -EPERM when another socket owns it, -ESTALE when the table
 * was replaced or deleted meanwhile (then it may now be an empty table of
 * this socket's: replace it). */
int nft_adopt(struct nft_handle *h, uint64_t handle, char *errbuf, size_t errlen);

/* Deletes the table; succeeds when it does not exist. */
int nft_remove(struct nft_handle *h, char *errbuf, size_t errlen);

/* Which NFT_APPLY_* flags this kernel accepts, probed in a transaction
 * that is always aborted: nothing is created, no event is sent. */
int nft_table_flags_supported(struct nft_handle *h, unsigned *ret_flags, char *errbuf,
			      size_t errlen);

/* ---- reading back ------------------------------------------------------- */

#define NFT_LIVE_NAME_MAX 64

struct nft_live_rule {
	uint64_t handle;
	char comment[RULESET_COMMENT_MAX + 1];  /* "" when the rule has none */
	bool has_counter;
	uint64_t packets, bytes;                /* of its counter, 0 without one */
	char *exprs;                            /* the expressions, as libnftnl prints them */
};

struct nft_live_set {
	char name[NFT_LIVE_NAME_MAX];
	uint32_t flags, key_type, key_len;
	struct ruleset_range *ranges;           /* normalised like ruleset_merge() */
	size_t n_ranges;
	char (*names)[IFNAMSIZ];                /* an ifname set's elements, sorted */
	size_t n_names;
	bool ranges_unread;                     /* NFT_READ_NO_RANGES left them out */
};

struct nft_live_chain {
	char name[NFT_LIVE_NAME_MAX];
	bool base;                              /* attached to a hook */
	char type[16];                          /* "filter", ... */
	uint32_t hooknum;
	int32_t priority;
	uint32_t policy;                        /* NF_ACCEPT, NF_DROP */
};

struct nft_live {
	uint32_t genid;                         /* ruleset generation it was read at */
	uint32_t table_flags;                   /* NFT_TABLE_F_* */
	uint64_t table_handle;                  /* changes when the table is replaced */
	uint32_t table_owner;                   /* netlink port id of the owning socket
						   (NFT_TABLE_F_OWNER), 0 without one */
	struct nft_live_chain *chains;
	size_t n_chains;
	struct nft_live_set *sets;
	size_t n_sets;
	struct nft_live_rule *rules;            /* of chain "dns", in order */
	size_t n_rules;
	struct nft_live_rule *ingress;          /* of chain "ingress", in order */
	size_t n_ingress;
};

/* Reads this table's own objects (table, chains, rules of its chains, sets
 * and their elements), each from a dump that no commit interrupted (read
 * again when one did), and re-read as a whole when the table itself was
 * replaced meanwhile. Commits to other tables do not make it fail.
 * Returns -ENOENT when the table does not exist. */
int nft_read(struct nft_handle *h, struct nft_live **ret, char *errbuf, size_t errlen);

/* nft_read() with flags. NFT_READ_NO_RANGES leaves the elements of the
 * address sets unread (set internal is read all the same) and marks them
 * so; nft_compare() then takes them as they should be. The kernel walks an
 * interval set from its first element again for every part of a dump, so
 * reading 50,000 ranges costs it a tenth of a second: a caller that knows
 * from the event socket that no element changed can skip them. */
#define NFT_READ_NO_RANGES 0x1u
int nft_read_flags(struct nft_handle *h, unsigned flags, struct nft_live **ret, char *errbuf,
		   size_t errlen);
void nft_live_free(struct nft_live *live);

/* The live table's OWNER and PERSIST flags, as NFT_APPLY_* flags. */
unsigned nft_live_flags(const struct nft_live *live);

/* The first rule carrying this comment, or NULL. */
const struct nft_live_rule *nft_live_find_rule(const struct nft_live *live, const char *comment);

/* Compares a live table (NULL: missing) with the desired one. Returns 0
 * when they match, 1 when they differ (diff then names the first
 * difference), or -ENOMEM. Counters, handles and table flags other than
 * "dormant" are not compared, nor the elements of set "internal", which
 * change with the interfaces: nft_compare_internal() checks those. */
int nft_compare(const struct nft_live *live, const struct ruleset *rs, char *diff, size_t difflen);

/* Whether the table's OWNER and PERSIST flags are those nft_apply() with
 * these NFT_APPLY_* flags sets: 0, or 1 with the difference in diff. */
int nft_compare_flags(const struct nft_live *live, unsigned flags, char *diff, size_t difflen);

/* A rule's expressions as nft_live_rule.exprs shows them when the kernel
 * holds exactly that rule (free() it). 0 or -ENOMEM. */
int nft_rule_exprs(const struct ruleset_rule *rr, char **ret);

/* Whether set "internal" holds exactly rs->internal: 0, or 1 with the
 * first difference in diff. */
int nft_compare_internal(const struct nft_live *live, const struct ruleset *rs, char *diff,
			 size_t difflen);

/* nft_read(), nft_compare() and nft_compare_internal(): 0 match, 1 differ or missing (diff says
 * which), negative errno when the table could not be read (diff holds the
 * error). *ret_live (optional) gets the live table when it exists. */
int nft_verify(struct nft_handle *h, const struct ruleset *rs, struct nft_live **ret_live,
	       char *diff, size_t difflen);
