/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "nft.h"
#include "nft-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4         /* Linux 6.9; older headers lack it */
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* nft's own type numbers and byte order marks: the kernel stores them
 * opaquely and nft needs them to print the sets. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_IFNAME 41
#define NFT_BYTEORDER_HOST_ENDIAN 1
#define NFT_BYTEORDER_BIG_ENDIAN 2
#define INTERNAL_SET_ID (RULESET_N_SETS + 1)

#define READ_BUF_SIZE (64 * 1024)
#define MSG_ROOM (64 * 1024 + 8192)     /* room reserved for any one message */
#define ELEMS_NEST_MAX 60000            /* a nested attribute's length is 16 bits */
#define RETRIES 3
#define DUMP_RETRIES 50               /* one object's dump, interrupted by any commit */
#define LOOPBACK_IFINDEX 1              /* lo is ifindex 1 in every network namespace */

struct nft_handle {
	struct mnl_socket *nl;
	uint32_t seq;
	int sndbuf, rcvbuf;                     /* as the kernel counts them */
	char *rbuf;
};

static void errf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* mnl_nlmsg_ok() compares the length as a signed int: a header claiming
 * 4 GiB less a byte passes, and aligns to 0, so a loop over such a
 * message never ends. */
static bool msg_ok(const struct nlmsghdr *nlh, int left)
{
	return mnl_nlmsg_ok(nlh, left) && nlh->nlmsg_len <= (uint32_t)left;
}

static const char *or_else(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int sockbuf_get(struct nft_handle *h, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(mnl_socket_get_fd(h->nl), SOL_SOCKET, opt, &v, &len) < 0 ? 0 : v;
}

int nft_open(struct nft_handle **ret)
{
	struct nft_handle *h = calloc(1, sizeof(*h));
	int one = 1, r;

	if (!h)
		return -ENOMEM;
	h->rbuf = malloc(READ_BUF_SIZE);
	if (!h->rbuf) {
		r = -ENOMEM;
		goto fail;
	}
	h->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!h->nl || mnl_socket_bind(h->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	/* Extended acks point at the attribute the kernel refused; capped acks
	 * keep an error on a 60 KiB element message from echoing it all back.
	 * Both are best effort: old kernels simply say less. */
	(void)mnl_socket_setsockopt(h->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(h->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	h->sndbuf = sockbuf_get(h, SO_SNDBUF);
	h->rcvbuf = sockbuf_get(h, SO_RCVBUF);
	h->seq = (uint32_t)time(NULL);
	*ret = h;
	return 0;
fail:
	nft_close(h);
	return r;
}

uint32_t nft_portid(const struct nft_handle *h)
{
	return mnl_socket_get_portid(h->nl);
}

void nft_close(struct nft_handle *h)
{
	if (!h)
		return;
	if (h->nl)
		mnl_socket_close(h->nl);
	free(h->rbuf);
	free(h);
}

/* ---- the batch ---------------------------------------------------------- */

struct batch_msg {
	size_t off;                             /* of its header in buf */
	char what[RULESET_RULE_STRLEN + 32];    /* "rule 5 (udp dport 53 counter drop)" */
	size_t first_elem;                      /* NEWSETELEM: number of its first element */
};

struct batch {
	char *buf;
	size_t len, cap;
	struct batch_msg *msgs;                 /* [0] is the batch begin */
	size_t n, cap_msgs;
	uint32_t seq0;
	size_t err_idx;                         /* after sending: the refused message */
};

static int batch_reserve(struct batch *b)
{
	struct batch_msg *m;
	char *buf;

	if (b->cap - b->len < MSG_ROOM) {
		size_t cap = b->cap * 2 + MSG_ROOM * 2;

		buf = realloc(b->buf, cap);
		if (!buf)
			return -ENOMEM;
		/* libmnl leaves attribute padding as it finds it: zeroed memory
		 * keeps stale heap bytes out of what the kernel is sent. */
		memset(buf + b->cap, 0, cap - b->cap);
		b->buf = buf;
		b->cap = cap;
	}
	if (b->n == b->cap_msgs) {
		m = realloc(b->msgs, (b->cap_msgs * 2 + 16) * sizeof(*m));
		if (!m)
			return -ENOMEM;
		b->msgs = m;
		b->cap_msgs = b->cap_msgs * 2 + 16;
	}
	return 0;
}

static struct batch_msg *batch_record(struct batch *b)
{
	struct batch_msg *m = &b->msgs[b->n++];

	memset(m, 0, sizeof(*m));
	m->off = b->len;
	return m;
}

/* Starts one message, acknowledged on its own so every reply can be
 * matched to it by sequence number. NULL on ENOMEM. */
static struct nlmsghdr *batch_hdr(struct batch *b, uint16_t type, uint16_t flags, const char *fmt,
				  ...) __attribute__((format(printf, 4, 5)));

static struct nlmsghdr *batch_hdr(struct batch *b, uint16_t type, uint16_t flags, const char *fmt,
				  ...)
{
	struct batch_msg *m;
	va_list ap;

	if (batch_reserve(b) < 0)
		return NULL;
	m = batch_record(b);
	va_start(ap, fmt);
	vsnprintf(m->what, sizeof(m->what), fmt, ap);
	va_end(ap);
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, NFPROTO_INET, flags | NLM_F_ACK,
				     b->seq0 + (uint32_t)(b->n - 1));
}

static void batch_done(struct batch *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int batch_start(struct batch *b, struct nft_handle *h)
{
	struct nlmsghdr *nlh;

	memset(b, 0, sizeof(*b));
	b->seq0 = h->seq;
	if (batch_reserve(b) < 0)
		return -ENOMEM;
	snprintf(batch_record(b)->what, sizeof(b->msgs[0].what), "transaction");
	nlh = nftnl_batch_begin(b->buf, b->seq0);
	batch_done(b, nlh);
	return 0;
}

static int batch_end(struct batch *b, struct nft_handle *h)
{
	struct nlmsghdr *nlh;

	if (batch_reserve(b) < 0)
		return -ENOMEM;
	nlh = nftnl_batch_end(b->buf + b->len, b->seq0 + (uint32_t)b->n);
	batch_done(b, nlh);
	h->seq = b->seq0 + (uint32_t)b->n + 1;
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->msgs);
}

/* ---- objects ------------------------------------------------------------ */

static int put_table(struct batch *b, uint16_t type, uint16_t flags, const char *name,
		     const uint32_t *table_flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh = NULL;

	if (t && nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) == 0) {
		/* Without the attribute an existing table's flags stay as they are. */
		if (table_flags)
			nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, *table_flags);
		nlh = batch_hdr(b, type, flags, "table inet %s", name);
	}
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_done(b, nlh);
	}
	nftnl_table_free(t);
	return nlh ? 0 : -ENOMEM;
}

static int put_chain(struct batch *b, const char *name, bool base)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh = NULL;

	if (c && nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, RULESET_TABLE) == 0 &&
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) == 0) {
		if (base && nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter") == 0) {
			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, RULESET_CHAIN_PRIORITY);
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
			nlh = batch_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE,
					"chain %s (type filter hook prerouting priority %d)", name,
					RULESET_CHAIN_PRIORITY);
		} else if (!base) {
			nlh = batch_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain %s", name);
		}
	}
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_done(b, nlh);
	}
	nftnl_chain_free(c);
	return nlh ? 0 : -ENOMEM;
}

/* A set named for reference: table, name and its id in this transaction. */
static struct nftnl_set *set_ref_name(const char *name, uint32_t id)
{
	struct nftnl_set *set = nftnl_set_alloc();

	if (!set)
		return NULL;
	if (nftnl_set_set_str(set, NFTNL_SET_TABLE, RULESET_TABLE) < 0 ||
	    nftnl_set_set_str(set, NFTNL_SET_NAME, name) < 0) {
		nftnl_set_free(set);
		return NULL;
	}
	if (id)
		nftnl_set_set_u32(set, NFTNL_SET_ID, id);
	return set;
}

static struct nftnl_set *set_ref(const struct ruleset_set *s, uint32_t id)
{
	return set_ref_name(s->name, id);
}

static int put_set(struct batch *b, const struct ruleset_set *s, uint32_t id)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	struct nftnl_set *set = set_ref(s, id);
	struct nlmsghdr *nlh = NULL;

	if (set && ud && nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_BIG_ENDIAN) &&
	    nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
			       nftnl_udata_buf_len(ud)) == 0) {
		nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE,
				  s->family == AF_INET ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, (uint32_t)family_len(s->family));
		nlh = batch_hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE, "set %s", s->name);
	}
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, set);
		batch_done(b, nlh);
	}
	nftnl_set_free(set);
	nftnl_udata_buf_free(ud);
	return nlh ? 0 : -ENOMEM;
}

/* ---- set elements ----------------------------------------------------- */

struct elem {
	uint8_t key[16];
	bool end;               /* NFT_SET_ELEM_INTERVAL_END: first address after a range */
	bool open;              /* a range that runs to the top of the address space */
};

/* Interval set elements as nft writes them: a start key per range and an
 * end key one past its last address; a range ending at the very top has
 * no end key (it would wrap to 0). nft also closes the gap below the first
 * range with an end key at 0; doing the same keeps the two tools' tables
 * identical. Fills out (room for 2n+1) and returns the count. */
static size_t set_elems(const struct ruleset_set *s, struct elem *out)
{
	size_t len = family_len(s->family), n = 0;
	static const uint8_t zero[16];

	if (s->n_ranges && memcmp(s->ranges[0].start, zero, len) != 0)
		out[n++] = (struct elem){ .end = true };
	for (size_t i = 0; i < s->n_ranges; i++) {
		struct elem *e = &out[n++];
		size_t k = len;

		*e = (struct elem){ 0 };
		memcpy(e->key, s->ranges[i].start, len);
		e = &out[n];
		*e = (struct elem){ .end = true };
		memcpy(e->key, s->ranges[i].end, len);
		while (k > 0 && ++e->key[k - 1] == 0)
			k--;
		if (k == 0)
			out[n - 1].open = true;
		else
			n++;
	}
	return n;
}

static struct nftnl_set_elem *elem_new(const struct elem *e, size_t len)
{
	struct nftnl_set_elem *se = nftnl_set_elem_alloc();
	struct nftnl_udata_buf *ud = NULL;
	bool ok = se && nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, e->key, (uint32_t)len) == 0;

	if (ok && e->end)
		nftnl_set_elem_set_u32(se, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	if (ok && e->open) {
		/* What nft marks so a listing shows "a/n" rather than "a-top". */
		ud = nftnl_udata_buf_alloc(16);
		ok = ud && nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_ELEM_FLAGS,
					       NFTNL_SET_ELEM_F_INTERVAL_OPEN) &&
		     nftnl_set_elem_set(se, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud),
					nftnl_udata_buf_len(ud)) == 0;
	}
	nftnl_udata_buf_free(ud);
	if (!ok && se) {
		nftnl_set_elem_free(se);
		se = NULL;
	}
	return se;
}

/* One NEWSETELEM message with as many elements as fit, from *pos on. */
static int put_elems_msg(struct batch *b, const struct ruleset_set *s, uint32_t id,
			 const struct elem *e, size_t n, size_t *pos)
{
	struct nftnl_set *set = set_ref(s, id);
	size_t first = *pos, len = family_len(s->family);
	struct nlmsghdr *nlh = set ? batch_hdr(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "set %s", s->name) :
				     NULL;
	struct nlattr *nest;
	uint32_t k = 0;

	if (!nlh) {
		nftnl_set_free(set);
		return -ENOMEM;
	}
	b->msgs[b->n - 1].first_elem = first + 1;
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	while (*pos < n && (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)nest < ELEMS_NEST_MAX) {
		struct nftnl_set_elem *se = elem_new(&e[*pos], len);

		if (!se)
			return -ENOMEM;
		nftnl_set_elem_nlmsg_build(nlh, se, ++k);
		nftnl_set_elem_free(se);
		(*pos)++;
	}
	mnl_attr_nest_end(nlh, nest);
	snprintf(b->msgs[b->n - 1].what, sizeof(b->msgs[0].what), "set %s elements %zu-%zu of %zu",
		 s->name, first + 1, *pos, n);
	batch_done(b, nlh);
	return 0;
}

static int put_elems(struct batch *b, const struct ruleset_set *s, uint32_t id)
{
	struct elem *e;
	size_t n, pos = 0;
	int r = 0;

	if (s->n_ranges == 0)
		return 0;
	e = calloc(2 * s->n_ranges + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	n = set_elems(s, e);
	while (r == 0 && pos < n)
		r = put_elems_msg(b, s, id, e, n, &pos);
	free(e);
	return r;
}

/* Set "internal": interface names as nft stores them (type ifname, 16
 * bytes, NUL padded, host byte order), no flags: a hash lookup. */
static int put_internal_set(struct batch *b)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	struct nftnl_set *set = set_ref_name(RULESET_SET_INTERNAL, INTERNAL_SET_ID);
	struct nlmsghdr *nlh = NULL;

	if (set && ud && nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_HOST_ENDIAN) &&
	    nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
			       nftnl_udata_buf_len(ud)) == 0) {
		nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, NFT_TYPE_IFNAME);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, IFNAMSIZ);
		nlh = batch_hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE, "set %s", RULESET_SET_INTERNAL);
	}
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, set);
		batch_done(b, nlh);
	}
	nftnl_set_free(set);
	nftnl_udata_buf_free(ud);
	return nlh ? 0 : -ENOMEM;
}

/* The internal set's elements, as many per message as fit. id 0: the set
 * exists already (an update), referenced by name only. */
static int put_internal_elems(struct batch *b, const struct ruleset *rs, uint32_t id)
{
	size_t pos = 0;

	while (pos < rs->n_internal) {
		struct nftnl_set *set = set_ref_name(RULESET_SET_INTERNAL, id);
		struct nlmsghdr *nlh = set ? batch_hdr(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "set %s",
						       RULESET_SET_INTERNAL) : NULL;
		size_t first = pos;
		struct nlattr *nest;
		uint32_t k = 0;

		if (!nlh) {
			nftnl_set_free(set);
			return -ENOMEM;
		}
		b->msgs[b->n - 1].first_elem = first + 1;
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		nftnl_set_free(set);
		nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		while (pos < rs->n_internal &&
		       (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)nest < ELEMS_NEST_MAX) {
			struct nftnl_set_elem *se = nftnl_set_elem_alloc();
			char key[IFNAMSIZ] = { 0 };

			memcpy(key, rs->internal[pos], strnlen(rs->internal[pos], IFNAMSIZ - 1));
			if (!se || nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, key, IFNAMSIZ) < 0) {
				nftnl_set_elem_free(se);
				return -ENOMEM;
			}
			nftnl_set_elem_nlmsg_build(nlh, se, ++k);
			nftnl_set_elem_free(se);
			pos++;
		}
		mnl_attr_nest_end(nlh, nest);
		snprintf(b->msgs[b->n - 1].what, sizeof(b->msgs[0].what),
			 "set %s elements %zu-%zu of %zu (\"%s\"...)", RULESET_SET_INTERNAL, first + 1, pos,
			 rs->n_internal, rs->internal[first]);
		batch_done(b, nlh);
	}
	return 0;
}

/* ---- rules -------------------------------------------------------------- */

static struct nftnl_expr *expr_add(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

static bool add_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = expr_add(r, "meta");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return true;
}

static bool add_cmp(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_add(r, "cmp");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	return nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) == 0;
}

static bool add_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr_add(r, "payload");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	return true;
}

static bool add_meta_cmp_u8(struct nftnl_rule *r, uint32_t key, uint8_t value)
{
	return add_meta(r, key) && add_cmp(r, &value, 1);
}

/* "udp dport 53": meta l4proto, then the transport header's bytes 2-3;
 * in the dns chain, where the port is known, the protocol alone. */
static bool add_proto(struct nftnl_rule *r, unsigned protos, bool port_checked)
{
	uint16_t port = htons(RULESET_DNS_PORT);

	if (!protos)
		return true;
	if (!add_meta_cmp_u8(r, NFT_META_L4PROTO, protos & RULESET_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP))
		return false;
	return port_checked ||
	       (add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) && add_cmp(r, &port, 2));
}

/* "fib daddr type != local": the route lookup nft does for it; at the
 * prerouting hook, before DNAT, so a port published on a host address
 * still counts as local. */
static bool add_not_local(struct nftnl_rule *r)
{
	struct nftnl_expr *e = expr_add(r, "fib");
	uint32_t local = RTN_LOCAL;

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	if (!(e = expr_add(r, "cmp")))
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
	return nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &local, sizeof(local)) == 0;
}

/* "iifname @internal". */
static bool add_internal(struct nftnl_rule *r)
{
	struct nftnl_expr *e;

	if (!add_meta(r, NFT_META_IIFNAME) || !(e = expr_add(r, "lookup")) ||
	    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, RULESET_SET_INTERNAL) < 0)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, INTERNAL_SET_ID);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	return true;
}

/* "ip saddr" / "ip6 saddr": the family, then the source address. */
static bool add_saddr(struct nftnl_rule *r, int family, uint32_t len)
{
	return add_meta_cmp_u8(r, NFT_META_NFPROTO, family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6) &&
	       add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET ? 12 : 8, len);
}

static bool add_lookup(struct nftnl_rule *r, enum ruleset_set_id set)
{
	int family = set == RULESET_SET_ALLOW4 ? AF_INET : AF_INET6;
	struct nftnl_expr *e;

	if (!add_saddr(r, family, (uint32_t)family_len(family)))
		return false;
	e = expr_add(r, "lookup");
	if (!e || nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, ruleset_set_name(set)) < 0)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)set + 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);      /* as the kernel reports it */
	return true;
}

/* A prefix on a byte boundary compares its bytes; any other one, /0
 * included, masks the whole address first. Both as nft does. */
static bool add_cidr(struct nftnl_rule *r, const struct cidr *c)
{
	uint32_t len = (uint32_t)cidr_addr_len(c);
	uint8_t mask[16] = { 0 }, zero[16] = { 0 };
	struct nftnl_expr *e;

	if (c->prefix % 8 == 0 && c->prefix > 0)
		return add_saddr(r, c->family, c->prefix / 8u) && add_cmp(r, c->addr, c->prefix / 8u);
	for (unsigned i = 0; i < c->prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	if (!add_saddr(r, c->family, len) || !(e = expr_add(r, "bitwise")))
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	return nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) == 0 &&
	       nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len) == 0 && add_cmp(r, c->addr, len);
}

static bool add_match(struct nftnl_rule *r, const struct ruleset_rule *rr)
{
	char name[IFNAMSIZ] = { 0 };
	uint32_t ifindex = LOOPBACK_IFINDEX;
	size_t len;

	switch (rr->match) {
	case RULESET_MATCH_IIF_LO:
		return add_meta(r, NFT_META_IIF) && add_cmp(r, &ifindex, sizeof(ifindex));
	case RULESET_MATCH_IIFNAME:
		/* An exact name compares all IFNAMSIZ bytes, NUL padding included;
		 * "X*" compares only X. */
		len = strnlen(rr->ifname, IFNAMSIZ - 1);
		memcpy(name, rr->ifname, len);
		if (len && name[len - 1] == '*')
			len--;
		else
			len = IFNAMSIZ;
		return add_meta(r, NFT_META_IIFNAME) && add_cmp(r, name, (uint32_t)len);
	case RULESET_MATCH_SET:
		return add_lookup(r, rr->set);
	case RULESET_MATCH_NOT_LOCAL:
		return add_not_local(r);
	case RULESET_MATCH_INTERNAL:
		return add_internal(r);
	case RULESET_MATCH_CIDR:
		return add_cidr(r, &rr->cidr);
	case RULESET_MATCH_ANY:
	default:
		return true;
	}
}

static bool add_tail(struct nftnl_rule *r, const struct ruleset_rule *rr)
{
	struct nftnl_udata_buf *ud;
	struct nftnl_expr *e;
	bool ok;

	if (rr->counter && !expr_add(r, "counter"))
		return false;
	e = expr_add(r, "immediate");
	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	if (rr->verdict == RULESET_JUMP) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_JUMP);
		if (nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, RULESET_CHAIN_DNS) < 0)
			return false;
	} else {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
				   rr->verdict == RULESET_DROP ? NF_DROP : NF_ACCEPT);
	}
	if (!rr->comment[0])
		return true;
	ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);
	ok = ud && nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, rr->comment) &&
	     nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
				 nftnl_udata_buf_len(ud)) == 0;
	nftnl_udata_buf_free(ud);
	return ok;
}

/* The rule as libnftnl objects: for the batch, and for comparing with what
 * the kernel reports. */
static int rule_build(const struct ruleset_rule *rr, const char *chain, struct nftnl_rule **ret)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0 ||
	    !add_proto(r, rr->protos, rr->port_checked) ||
	    !add_match(r, rr) || !add_tail(r, rr)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	*ret = r;
	return 0;
}

static int put_rule(struct batch *b, const struct ruleset_rule *rr, const char *chain, size_t pos)
{
	char text[RULESET_RULE_STRLEN];
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	int ret = rule_build(rr, chain, &r);

	if (ret < 0)
		return ret;
	nlh = batch_hdr(b, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE, "chain %s rule %zu (%s)", chain,
			pos, ruleset_rule_format(rr, text, sizeof(text)));
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_done(b, nlh);
	}
	nftnl_rule_free(r);
	return nlh ? 0 : -ENOMEM;
}

/* ---- sending and acknowledgements ----------------------------------- */

static int grow_sockbuf(struct nft_handle *h, int opt, int force, int want, int *cur)
{
	int fd = mnl_socket_get_fd(h->nl);

	if (want <= *cur)
		return 0;
	/* FORCE passes net.core.[rw]mem_max with CAP_NET_ADMIN, which every
	 * request needs anyway; the plain option is the fallback. */
	if (setsockopt(fd, SOL_SOCKET, force, &want, sizeof(want)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want));
	*cur = sockbuf_get(h, opt);
	return want <= *cur ? 0 : -EMSGSIZE;
}

static int grow_buffers(struct nft_handle *h, const struct batch *b, char *errbuf, size_t errlen)
{
	size_t snd = b->len + 4096, rcv = b->n * 1024 + 65536;

	if (snd > INT_MAX / 2 || rcv > INT_MAX / 2)
		snd = rcv = INT_MAX / 2;
	/* The kernel refuses a message longer than the send buffer; every ack
	 * takes about 1 KiB of the receive buffer until read. */
	(void)grow_sockbuf(h, SO_RCVBUF, SO_RCVBUFFORCE, (int)rcv, &h->rcvbuf);
	if (grow_sockbuf(h, SO_SNDBUF, SO_SNDBUFFORCE, (int)snd, &h->sndbuf) < 0) {
		errf(errbuf, errlen,
		     "a batch of %zu bytes does not fit the socket send buffer (%d bytes; "
		     "raise net.core.wmem_max)", b->len, h->sndbuf);
		return -EMSGSIZE;
	}
	return 0;
}

struct acks {
	struct batch *b;
	size_t acked;
	size_t err_idx;
	int err;                        /* positive errno of the first failing message */
	char ext[160];                  /* the kernel's extended ack text */
	uint32_t off;                   /* offset of the refused attribute, 0 when none */
};

static void parse_extack(const struct nlmsghdr *nlh, struct acks *a)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t skip = sizeof(*e);
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		skip += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
	if (skip > mnl_nlmsg_get_payload_len(nlh))
		return;
	mnl_attr_for_each(attr, nlh, skip) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(a->ext, sizeof(a->ext), "%s", mnl_attr_get_str(attr));
		else if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS &&
			 mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			a->off = mnl_attr_get_u32(attr);
	}
}

static void take_ack(const struct nlmsghdr *nlh, struct acks *a)
{
	const struct nlmsgerr *e;
	size_t idx;

	if (nlh->nlmsg_type != NLMSG_ERROR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return;
	e = mnl_nlmsg_get_payload(nlh);
	idx = (uint32_t)(nlh->nlmsg_seq - a->b->seq0);
	if (idx >= a->b->n)
		return;                 /* not about this batch */
	if (e->error == 0) {
		a->acked++;
	} else if (!a->err || idx < a->err_idx) {
		/* The first refused message is the cause; later ones are
		 * usually its consequences. */
		a->err = -e->error;
		a->err_idx = idx;
		a->ext[0] = '\0';
		a->off = 0;
		parse_extack(nlh, a);
	}
}

/* The attribute in [start, start + len) that holds byte off of nlh. */
static const struct nlattr *attr_holding(const struct nlmsghdr *nlh, const void *start, size_t len,
					 uint32_t off, unsigned *ret_idx)
{
	const struct nlattr *attr = start;
	const char *end = (const char *)start + len;
	unsigned i = 0;

	for (; mnl_attr_ok(attr, (int)(end - (const char *)attr)); attr = mnl_attr_next(attr)) {
		size_t at = (size_t)((const char *)attr - (const char *)nlh);

		if (off >= at && off < at + attr->nla_len) {
			*ret_idx = i;
			return attr;
		}
		i++;
	}
	return NULL;
}

/* Names what an extended ack's offset points at in our own copy of the
 * message: an expression of a rule, an element of a set. */
static void describe_offset(const struct acks *a, char *buf, size_t len, char *expr, size_t exprlen)
{
	const struct batch_msg *m = &a->b->msgs[a->err_idx];
	const struct nlmsghdr *nlh = (const void *)(a->b->buf + m->off);
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const struct nlattr *top, *inner, *name;
	unsigned i = 0, k = 0;          /* index of the top attribute, of the inner one */

	buf[0] = '\0';
	if (!a->off || a->off >= nlh->nlmsg_len)
		return;
	top = attr_holding(nlh, mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)),
			   nlh->nlmsg_len - MNL_ALIGN(sizeof(struct nfgenmsg)) - MNL_NLMSG_HDRLEN, a->off, &i);
	if (!top)
		return;
	inner = attr_holding(nlh, mnl_attr_get_payload(top), mnl_attr_get_payload_len(top), a->off, &k);
	if (type == NFT_MSG_NEWRULE && mnl_attr_get_type(top) == NFTA_RULE_EXPRESSIONS && inner) {
		name = mnl_attr_get_payload_len(inner) >= 4 ? mnl_attr_get_payload(inner) : NULL;
		snprintf(expr, exprlen, "%s",
			 name && mnl_attr_get_type(name) == NFTA_EXPR_NAME ? mnl_attr_get_str(name) : "?");
		snprintf(buf, len, "expression %u, %s", k + 1, expr);
	} else if (type == NFT_MSG_NEWSETELEM && mnl_attr_get_type(top) == NFTA_SET_ELEM_LIST_ELEMENTS &&
		   inner) {
		snprintf(buf, len, "element %zu", m->first_elem + k);
	} else {
		snprintf(buf, len, "attribute %u", mnl_attr_get_type(top));
	}
}

/* What a missing feature most likely is, by the message that failed. */
static void missing_hint(uint16_t type, const char *expr, char *buf, size_t len)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
		snprintf(buf, len, "; this kernel lacks the table flags asked for");
		break;
	case NFT_MSG_NEWCHAIN:
		snprintf(buf, len, "; this kernel cannot hook inet filter chains (nf_tables with inet)");
		break;
	case NFT_MSG_NEWSET:
	case NFT_MSG_NEWSETELEM:
		snprintf(buf, len, "; this kernel lacks interval sets (nft_set_rbtree)");
		break;
	case NFT_MSG_NEWRULE:
		if (expr[0])
			snprintf(buf, len, "; this kernel lacks expression %s (module nft_%s)", expr, expr);
		else
			snprintf(buf, len, "; a kernel module is missing");
		break;
	default:
		break;
	}
}

static void describe_error(const struct acks *a, char *errbuf, size_t errlen)
{
	const struct batch_msg *m = &a->b->msgs[a->err_idx];
	const struct nlmsghdr *nlh = (const void *)(a->b->buf + m->off);
	char where[96], expr[32] = "";
	bool missing = a->err == EOPNOTSUPP || a->err == ENOENT;

	describe_offset(a, where, sizeof(where), expr, sizeof(expr));
	errf(errbuf, errlen, "%s: %s%s%s%s%s%s", m->what, strerror(a->err), a->ext[0] ? ": " : "",
	     a->ext, where[0] ? " (at " : "", where, where[0] ? ")" : "");
	if (!errbuf || strlen(errbuf) + 1 >= errlen)
		return;
	if (missing && a->err_idx > 0)
		missing_hint(NFNL_MSG_TYPE(nlh->nlmsg_type), expr, errbuf + strlen(errbuf),
			     errlen - strlen(errbuf));
	else if (a->err == E2BIG && NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWCHAIN)
		/* A replacement briefly needs room for the old and new chain. */
		snprintf(errbuf + strlen(errbuf), errlen - strlen(errbuf),
			 "; the hook already holds as many chains as the kernel allows");
}

/* Netlink hands a batch to nf_tables inside sendmsg(), so by the time it
 * returns every reply is queued: read until the socket is empty. */
static int read_acks(struct nft_handle *h, struct batch *b, char *errbuf, size_t errlen)
{
	struct acks a = { .b = b };
	ssize_t n;
	int left, r;

	for (;;) {
		n = recv(mnl_socket_get_fd(h->nl), h->rbuf, READ_BUF_SIZE, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			/* ENOBUFS: replies were dropped, the commit may or may not have happened. */
			r = -errno;
			errf(errbuf, errlen, "reading the kernel's answer: %s; the outcome is unknown",
			     strerror(-r));
			return r;
		}
		left = (int)n;
		for (const struct nlmsghdr *nlh = (void *)h->rbuf; msg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left))
			take_ack(nlh, &a);
	}
	if (a.err) {
		b->err_idx = a.err_idx;
		describe_error(&a, errbuf, errlen);
		return -a.err;
	}
	if (a.acked + 1 < b->n) {
		errf(errbuf, errlen, "the kernel acknowledged %zu of %zu messages", a.acked, b->n - 1);
		return -EPROTO;
	}
	return 0;
}

static int batch_send(struct nft_handle *h, struct batch *b, char *errbuf, size_t errlen)
{
	int r = grow_buffers(h, b, errbuf, errlen);

	if (r < 0)
		return r;
	if (mnl_socket_sendto(h->nl, b->buf, b->len) < 0) {
		r = -errno;
		errf(errbuf, errlen, "sending %zu bytes to nf_tables: %s", b->len, strerror(errno));
		return r;
	}
	return read_acks(h, b, errbuf, errlen);
}

typedef int (*batch_fill)(struct batch *b, const void *arg);

/* Builds and sends one transaction; a transaction that lost a race with
 * another one (the ruleset generation changed) is built and sent again. */
static int run_batch(struct nft_handle *h, batch_fill fill, const void *arg, char *errbuf,
		     size_t errlen)
{
	struct batch b;
	int r;

	for (int attempt = 1;; attempt++) {
		r = batch_start(&b, h);
		if (r == 0)
			r = fill(&b, arg);
		if (r == 0)
			r = batch_end(&b, h);
		if (r == 0)
			r = batch_send(h, &b, errbuf, errlen);
		else
			errf(errbuf, errlen, "building the transaction: %s", strerror(-r));
		batch_free(&b);
		if ((r != -ERESTART && r != -EINTR && r != -EAGAIN) || attempt == RETRIES)
			return r;
	}
}

/* ---- apply, remove, probe ------------------------------------------------ */

struct apply_arg {
	const struct ruleset *rs;
	uint32_t table_flags;
};

static int fill_apply(struct batch *b, const void *arg)
{
	const struct apply_arg *a = arg;
	int r;

	/* Create if missing, delete, create: the replacement is one
	 * transaction whether or not the table exists. */
	r = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, RULESET_TABLE, NULL);
	if (r == 0)
		r = put_table(b, NFT_MSG_DELTABLE, 0, RULESET_TABLE, NULL);
	if (r == 0)
		r = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, RULESET_TABLE, &a->table_flags);
	if (r == 0)
		r = put_chain(b, RULESET_CHAIN, true);
	if (r == 0)
		r = put_chain(b, RULESET_CHAIN_DNS, false);
	for (size_t i = 0; r == 0 && i < RULESET_N_SETS; i++)
		r = put_set(b, &a->rs->sets[i], (uint32_t)i + 1);
	if (r == 0)
		r = put_internal_set(b);
	for (size_t i = 0; r == 0 && i < RULESET_N_SETS; i++)
		r = put_elems(b, &a->rs->sets[i], (uint32_t)i + 1);
	if (r == 0)
		r = put_internal_elems(b, a->rs, INTERNAL_SET_ID);
	for (size_t i = 0; r == 0 && i < a->rs->n_rules; i++)
		r = put_rule(b, &a->rs->rules[i], RULESET_CHAIN_DNS, i + 1);
	for (size_t i = 0; r == 0 && i < a->rs->n_ingress; i++)
		r = put_rule(b, &a->rs->ingress[i], RULESET_CHAIN, i + 1);
	return r;
}

int nft_apply(struct nft_handle *h, const struct ruleset *rs, unsigned flags, char *errbuf,
	      size_t errlen)
{
	struct apply_arg a = { .rs = rs };

	if (flags & ~(NFT_APPLY_OWNER | NFT_APPLY_PERSIST)) {
		errf(errbuf, errlen, "unknown table flags 0x%x", flags);
		return -EINVAL;
	}
	if (flags & NFT_APPLY_OWNER)
		a.table_flags |= NFT_TABLE_F_OWNER;
	if (flags & NFT_APPLY_PERSIST)
		a.table_flags |= NFT_TABLE_F_PERSIST;
	return run_batch(h, fill_apply, &a, errbuf, errlen);
}

static int read_table(struct nft_handle *h, struct nft_live *live);

static int fill_adopt(struct batch *b, const void *arg)
{
	return put_table(b, NFT_MSG_NEWTABLE, 0, RULESET_TABLE, arg);
}

int nft_adopt(struct nft_handle *h, uint64_t handle, char *errbuf, size_t errlen)
{
	static const uint32_t flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	struct nft_live after = { 0 };
	int r;

	/* An existing table only has its flags updated: for an orphan (persist
	 * without owner) the kernel makes this socket the owner and keeps
	 * everything else, counters included (Linux 6.9). A table deleted
	 * meanwhile would be created anew, empty: the read below tells. */
	r = run_batch(h, fill_adopt, &flags, errbuf, errlen);
	if (r < 0)
		return r;
	r = read_table(h, &after);
	if (r < 0) {
		errf(errbuf, errlen, "reading table inet %s after taking it over: %s", RULESET_TABLE,
		     strerror(-r));
		return r;
	}
	if (after.table_handle != handle || !(after.table_flags & NFT_TABLE_F_OWNER) ||
	    after.table_owner != nft_portid(h)) {
		errf(errbuf, errlen, "table inet %s was replaced while it was taken over", RULESET_TABLE);
		return -ESTALE;
	}
	return 0;
}

static int fill_remove(struct batch *b, const void *arg)
{
	int r;

	(void)arg;
	/* Create then delete, so a missing table is no error. */
	r = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, RULESET_TABLE, NULL);
	return r ? r : put_table(b, NFT_MSG_DELTABLE, 0, RULESET_TABLE, NULL);
}

int nft_remove(struct nft_handle *h, char *errbuf, size_t errlen)
{
	return run_batch(h, fill_remove, NULL, errbuf, errlen);
}

static int fill_internal(struct batch *b, const void *arg)
{
	const struct ruleset *rs = arg;
	struct nftnl_set *set = set_ref_name(RULESET_SET_INTERNAL, 0);
	struct nlmsghdr *nlh = set ? batch_hdr(b, NFT_MSG_DELSETELEM, 0, "flush set %s",
					       RULESET_SET_INTERNAL) : NULL;

	/* A DELSETELEM without elements flushes the set; the new elements
	 * follow in the same transaction, so no packet sees it empty. */
	if (!nlh) {
		nftnl_set_free(set);
		return -ENOMEM;
	}
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	batch_done(b, nlh);
	return put_internal_elems(b, rs, 0);
}

int nft_set_internal(struct nft_handle *h, const struct ruleset *rs, char *errbuf, size_t errlen)
{
	return run_batch(h, fill_internal, rs, errbuf, errlen);
}

struct probe_arg {
	char name[64];
	uint32_t flags;
};

static int fill_probe(struct batch *b, const void *arg)
{
	const struct probe_arg *p = arg;
	int r;

	/* The second message always fails (the table exists by then), so
	 * the kernel aborts the transaction: nothing is created, no event
	 * goes out, and the first message's answer tells about the flags. */
	r = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, p->name, &p->flags);
	return r ? r : put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, p->name, NULL);
}

/* 1: accepted, 0: refused as unsupported, or a negative errno. */
static int probe_flags(struct nft_handle *h, uint32_t flags, char *errbuf, size_t errlen)
{
	struct probe_arg p = { .flags = flags };
	char err[256] = "";
	struct batch b;
	size_t idx = 0;
	int r;

	snprintf(p.name, sizeof(p.name), "%s-probe-%ld-%u", RULESET_TABLE, (long)getpid(), h->seq);
	r = batch_start(&b, h);
	if (r == 0)
		r = fill_probe(&b, &p);
	if (r == 0)
		r = batch_end(&b, h);
	if (r == 0) {
		r = batch_send(h, &b, err, sizeof(err));
		idx = b.err_idx;
	}
	batch_free(&b);
	if (r == -EEXIST && idx == 2)
		return 1;
	if ((r == -EOPNOTSUPP || r == -EINVAL) && idx == 1)
		return 0;
	errf(errbuf, errlen, "probing table flags: %s",
	     r == 0 ? "the kernel committed a probe" : err[0] ? err : strerror(-r));
	return r < 0 ? r : -EPROTO;
}

int nft_table_flags_supported(struct nft_handle *h, unsigned *ret_flags, char *errbuf,
			      size_t errlen)
{
	unsigned flags = 0;
	int r = probe_flags(h, NFT_TABLE_F_OWNER, errbuf, errlen);

	if (r < 0)
		return r;
	if (r > 0) {
		flags |= NFT_APPLY_OWNER;
		r = probe_flags(h, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, errbuf, errlen);
		if (r < 0)
			return r;
		if (r > 0)
			flags |= NFT_APPLY_PERSIST;
	}
	*ret_flags = flags;
	return 0;
}

/* ---- checking messages before libnftnl parses them -------------------- */

/* libnftnl takes the kernel's messages as well-formed: an attribute of the
 * wrong size makes it print "nf_tables kernel ABI is broken" and exit()
 * the process, a missing expression name is a NULL dereference, and names
 * are copied with strdup() whether or not they end. Nothing from another
 * process is trusted that far, so every message is checked first against
 * the attribute types libnftnl's own parsers expect (strings must end in
 * a NUL); one that fails is a protocol error, never a crash. Policies are
 * indexed by attribute type; 0 (MNL_TYPE_UNSPEC) is not checked. */
typedef uint8_t policy_t;

static const policy_t table_policy[NFTA_TABLE_MAX + 1] = {
	[NFTA_TABLE_NAME] = MNL_TYPE_NUL_STRING, [NFTA_TABLE_HANDLE] = MNL_TYPE_U64,
	[NFTA_TABLE_FLAGS] = MNL_TYPE_U32, [NFTA_TABLE_USE] = MNL_TYPE_U32,
	[NFTA_TABLE_OWNER] = MNL_TYPE_U32, [NFTA_TABLE_USERDATA] = MNL_TYPE_BINARY,
};
static const policy_t chain_policy[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_NAME] = MNL_TYPE_NUL_STRING, [NFTA_CHAIN_TABLE] = MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_TYPE] = MNL_TYPE_NUL_STRING, [NFTA_CHAIN_HOOK] = MNL_TYPE_NESTED,
	[NFTA_CHAIN_COUNTERS] = MNL_TYPE_NESTED, [NFTA_CHAIN_POLICY] = MNL_TYPE_U32,
	[NFTA_CHAIN_USE] = MNL_TYPE_U32, [NFTA_CHAIN_FLAGS] = MNL_TYPE_U32,
	[NFTA_CHAIN_ID] = MNL_TYPE_U32, [NFTA_CHAIN_HANDLE] = MNL_TYPE_U64,
	[NFTA_CHAIN_USERDATA] = MNL_TYPE_BINARY,
};
static const policy_t hook_policy[NFTA_HOOK_MAX + 1] = {
	[NFTA_HOOK_HOOKNUM] = MNL_TYPE_U32, [NFTA_HOOK_PRIORITY] = MNL_TYPE_U32,
	[NFTA_HOOK_DEV] = MNL_TYPE_NUL_STRING, [NFTA_HOOK_DEVS] = MNL_TYPE_NESTED,
};
static const policy_t counter_policy[NFTA_COUNTER_MAX + 1] = {
	[NFTA_COUNTER_BYTES] = MNL_TYPE_U64, [NFTA_COUNTER_PACKETS] = MNL_TYPE_U64,
};
static const policy_t set_policy[NFTA_SET_MAX + 1] = {
	[NFTA_SET_TABLE] = MNL_TYPE_NUL_STRING, [NFTA_SET_NAME] = MNL_TYPE_NUL_STRING,
	[NFTA_SET_HANDLE] = MNL_TYPE_U64, [NFTA_SET_FLAGS] = MNL_TYPE_U32,
	[NFTA_SET_KEY_TYPE] = MNL_TYPE_U32, [NFTA_SET_KEY_LEN] = MNL_TYPE_U32,
	[NFTA_SET_DATA_TYPE] = MNL_TYPE_U32, [NFTA_SET_DATA_LEN] = MNL_TYPE_U32,
	[NFTA_SET_ID] = MNL_TYPE_U32, [NFTA_SET_POLICY] = MNL_TYPE_U32,
	[NFTA_SET_GC_INTERVAL] = MNL_TYPE_U32, [NFTA_SET_USERDATA] = MNL_TYPE_BINARY,
	[NFTA_SET_TIMEOUT] = MNL_TYPE_U64, [NFTA_SET_DESC] = MNL_TYPE_NESTED,
	[NFTA_SET_EXPR] = MNL_TYPE_NESTED, [NFTA_SET_EXPRESSIONS] = MNL_TYPE_NESTED,
};
static const policy_t desc_policy[NFTA_SET_DESC_MAX + 1] = {
	[NFTA_SET_DESC_SIZE] = MNL_TYPE_U32, [NFTA_SET_DESC_CONCAT] = MNL_TYPE_NESTED,
};
static const policy_t elem_list_policy[NFTA_SET_ELEM_LIST_MAX + 1] = {
	[NFTA_SET_ELEM_LIST_TABLE] = MNL_TYPE_NUL_STRING, [NFTA_SET_ELEM_LIST_SET] = MNL_TYPE_NUL_STRING,
	[NFTA_SET_ELEM_LIST_ELEMENTS] = MNL_TYPE_NESTED,
};
static const policy_t elem_policy[NFTA_SET_ELEM_MAX + 1] = {
	[NFTA_SET_ELEM_FLAGS] = MNL_TYPE_U32, [NFTA_SET_ELEM_TIMEOUT] = MNL_TYPE_U64,
	[NFTA_SET_ELEM_EXPIRATION] = MNL_TYPE_U64, [NFTA_SET_ELEM_KEY] = MNL_TYPE_NESTED,
	[NFTA_SET_ELEM_KEY_END] = MNL_TYPE_NESTED, [NFTA_SET_ELEM_DATA] = MNL_TYPE_NESTED,
	[NFTA_SET_ELEM_EXPR] = MNL_TYPE_NESTED, [NFTA_SET_ELEM_EXPRESSIONS] = MNL_TYPE_NESTED,
	[NFTA_SET_ELEM_USERDATA] = MNL_TYPE_BINARY,
};
static const policy_t rule_policy[NFTA_RULE_MAX + 1] = {
	[NFTA_RULE_TABLE] = MNL_TYPE_NUL_STRING, [NFTA_RULE_CHAIN] = MNL_TYPE_NUL_STRING,
	[NFTA_RULE_HANDLE] = MNL_TYPE_U64, [NFTA_RULE_COMPAT] = MNL_TYPE_NESTED,
	[NFTA_RULE_POSITION] = MNL_TYPE_U64, [NFTA_RULE_USERDATA] = MNL_TYPE_BINARY,
	[NFTA_RULE_ID] = MNL_TYPE_U32, [NFTA_RULE_POSITION_ID] = MNL_TYPE_U32,
	[NFTA_RULE_EXPRESSIONS] = MNL_TYPE_NESTED,
};
static const policy_t compat_policy[NFTA_RULE_COMPAT_MAX + 1] = {
	[NFTA_RULE_COMPAT_PROTO] = MNL_TYPE_U32, [NFTA_RULE_COMPAT_FLAGS] = MNL_TYPE_U32,
};
static const policy_t expr_policy[NFTA_EXPR_MAX + 1] = {
	[NFTA_EXPR_NAME] = MNL_TYPE_NUL_STRING, [NFTA_EXPR_DATA] = MNL_TYPE_NESTED,
};

/* The expressions port53guard writes, with the types libnftnl checks in
 * each. A rule holding any other kind is not handed to libnftnl: it reads
 * as a rule that cannot be ours (rule_cb), which compares as a difference. */
static const policy_t meta_policy[NFTA_META_MAX + 1] = {
	[NFTA_META_KEY] = MNL_TYPE_U32, [NFTA_META_DREG] = MNL_TYPE_U32, [NFTA_META_SREG] = MNL_TYPE_U32,
};
static const policy_t cmp_policy[NFTA_CMP_MAX + 1] = {
	[NFTA_CMP_SREG] = MNL_TYPE_U32, [NFTA_CMP_OP] = MNL_TYPE_U32, [NFTA_CMP_DATA] = MNL_TYPE_BINARY,
};
static const policy_t payload_policy[NFTA_PAYLOAD_MAX + 1] = {
	[NFTA_PAYLOAD_SREG] = MNL_TYPE_U32, [NFTA_PAYLOAD_DREG] = MNL_TYPE_U32,
	[NFTA_PAYLOAD_BASE] = MNL_TYPE_U32, [NFTA_PAYLOAD_OFFSET] = MNL_TYPE_U32,
	[NFTA_PAYLOAD_LEN] = MNL_TYPE_U32, [NFTA_PAYLOAD_CSUM_TYPE] = MNL_TYPE_U32,
	[NFTA_PAYLOAD_CSUM_OFFSET] = MNL_TYPE_U32, [NFTA_PAYLOAD_CSUM_FLAGS] = MNL_TYPE_U32,
};
static const policy_t lookup_policy[NFTA_LOOKUP_MAX + 1] = {
	[NFTA_LOOKUP_SREG] = MNL_TYPE_U32, [NFTA_LOOKUP_DREG] = MNL_TYPE_U32,
	[NFTA_LOOKUP_SET_ID] = MNL_TYPE_U32, [NFTA_LOOKUP_FLAGS] = MNL_TYPE_U32,
	[NFTA_LOOKUP_SET] = MNL_TYPE_NUL_STRING,
};
static const policy_t fib_policy[NFTA_FIB_MAX + 1] = {
	[NFTA_FIB_RESULT] = MNL_TYPE_U32, [NFTA_FIB_DREG] = MNL_TYPE_U32, [NFTA_FIB_FLAGS] = MNL_TYPE_U32,
};
static const policy_t immediate_policy[NFTA_IMMEDIATE_MAX + 1] = {
	[NFTA_IMMEDIATE_DREG] = MNL_TYPE_U32, [NFTA_IMMEDIATE_DATA] = MNL_TYPE_BINARY,
};
static const policy_t bitwise_policy[NFTA_BITWISE_MAX + 1] = {
	[NFTA_BITWISE_SREG] = MNL_TYPE_U32, [NFTA_BITWISE_DREG] = MNL_TYPE_U32,
	[NFTA_BITWISE_OP] = MNL_TYPE_U32, [NFTA_BITWISE_LEN] = MNL_TYPE_U32,
	[NFTA_BITWISE_MASK] = MNL_TYPE_BINARY, [NFTA_BITWISE_XOR] = MNL_TYPE_BINARY,
	[NFTA_BITWISE_DATA] = MNL_TYPE_BINARY,
};

#define POLICY(p) p, sizeof(p) / sizeof((p)[0])

static const struct {
	const char *name;
	const policy_t *policy;
	size_t n;
} expr_kinds[] = {
	{ "meta", POLICY(meta_policy) },       { "cmp", POLICY(cmp_policy) },
	{ "payload", POLICY(payload_policy) }, { "lookup", POLICY(lookup_policy) },
	{ "fib", POLICY(fib_policy) },         { "counter", POLICY(counter_policy) },
	{ "immediate", POLICY(immediate_policy) }, { "bitwise", POLICY(bitwise_policy) },
};

/* Every attribute from a up to end whose type the policy names has that
 * type. */
static bool attrs_ok(const struct nlattr *a, const struct nlattr *end, const policy_t *policy, size_t n)
{
	for (; mnl_attr_ok(a, (int)((const char *)end - (const char *)a)); a = mnl_attr_next(a)) {
		uint16_t t = mnl_attr_get_type(a);

		if (t < n && policy[t] && mnl_attr_validate(a, (enum mnl_attr_data_type)policy[t]) < 0)
			return false;
	}
	return true;
}

static const struct nlattr *nest_first(const struct nlattr *nest)
{
	return mnl_attr_get_payload(nest);
}

static const struct nlattr *nest_end(const struct nlattr *nest)
{
	return (const void *)((const char *)nest + nest->nla_len);
}

#define NEST_OK(nest, p) attrs_ok(nest_first(nest), nest_end(nest), POLICY(p))

static bool msg_attrs_ok(const struct nlmsghdr *nlh, const policy_t *policy, size_t n)
{
	/* libmnl parses attributes up to the length rounded up to 4 bytes,
	 * so an unaligned length would let an attribute reach past the end
	 * checked here. The kernel's messages are always aligned. */
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg) || nlh->nlmsg_len % MNL_ALIGNTO)
		return false;
	return attrs_ok(mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)),
			(const void *)((const char *)nlh + nlh->nlmsg_len), policy, n);
}

/* A data register (NFTA_DATA_*): libnftnl copies a value into a fixed
 * buffer without always checking its length (16 bytes is the longest key
 * of ours: an IPv6 address, an interface name), and reads a verdict's
 * code, and a jump's chain, from an array it never clears, so both must
 * be there. */
#define DATA_VALUE_MAX 16

static bool data_ok(const struct nlattr *nest)
{
	const struct nlattr *a, *v;

	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return false;
	mnl_attr_for_each_nested(a, nest) {
		const struct nlattr *code = NULL, *chain = NULL;

		if (mnl_attr_get_type(a) == NFTA_DATA_VALUE && mnl_attr_get_payload_len(a) > DATA_VALUE_MAX)
			return false;
		if (mnl_attr_get_type(a) != NFTA_DATA_VERDICT)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return false;
		mnl_attr_for_each_nested(v, a) {
			if (mnl_attr_get_type(v) == NFTA_VERDICT_CODE)
				code = v;
			else if (mnl_attr_get_type(v) == NFTA_VERDICT_CHAIN)
				chain = v;
		}
		if (!code || mnl_attr_validate(code, MNL_TYPE_U32) < 0 ||
		    (chain && mnl_attr_validate(chain, MNL_TYPE_NUL_STRING) < 0))
			return false;
		if (!chain && ((int32_t)ntohl(mnl_attr_get_u32(code)) == NFT_JUMP ||
			       (int32_t)ntohl(mnl_attr_get_u32(code)) == NFT_GOTO))
			return false;
	}
	return true;
}

/* 1: an expression libnftnl parses safely, 0: well-formed but of a kind
 * not checked here, -1: malformed. */
static int expr_ok(const struct nlattr *e)
{
	const struct nlattr *a, *name = NULL, *data = NULL;

	if (!NEST_OK(e, expr_policy))
		return -1;
	mnl_attr_for_each_nested(a, e) {
		if (mnl_attr_get_type(a) == NFTA_EXPR_NAME)
			name = a;
		else if (mnl_attr_get_type(a) == NFTA_EXPR_DATA)
			data = a;
	}
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(expr_kinds) / sizeof(expr_kinds[0]); i++) {
		if (strcmp(mnl_attr_get_str(name), expr_kinds[i].name) != 0)
			continue;
		if (data && !attrs_ok(nest_first(data), nest_end(data), expr_kinds[i].policy, expr_kinds[i].n))
			return -1;
		/* Every nest an expression of ours holds is a data register. */
		mnl_attr_for_each_nested(a, data ? data : e)
			if (data && mnl_attr_get_type(a) < expr_kinds[i].n &&
			    expr_kinds[i].policy[mnl_attr_get_type(a)] == MNL_TYPE_BINARY && !data_ok(a))
				return -1;
		return 1;
	}
	return 0;
}

/* The same for a list of expressions (NFTA_LIST_ELEM each), or for one
 * expression when single. */
static int exprs_ok(const struct nlattr *nest, bool single)
{
	const struct nlattr *e;
	int worst = 1, r;

	if (single)
		return expr_ok(nest);
	mnl_attr_for_each_nested(e, nest) {
		if (mnl_attr_get_type(e) != NFTA_LIST_ELEM || mnl_attr_validate(e, MNL_TYPE_NESTED) < 0)
			return -1;
		r = expr_ok(e);
		if (r < worst)
			worst = r;
	}
	return worst;
}

static bool table_msg_ok(const struct nlmsghdr *nlh)
{
	return msg_attrs_ok(nlh, POLICY(table_policy));
}

static bool chain_msg_ok(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	if (!msg_attrs_ok(nlh, POLICY(chain_policy)))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if ((mnl_attr_get_type(a) == NFTA_CHAIN_HOOK && !NEST_OK(a, hook_policy)) ||
		    (mnl_attr_get_type(a) == NFTA_CHAIN_COUNTERS && !NEST_OK(a, counter_policy)))
			return false;
	}
	return true;
}

/* A set's description: its size, and the length of each concatenated
 * field (a list of nests of u32). */
static bool desc_ok(const struct nlattr *desc)
{
	const struct nlattr *a, *f, *x;

	if (!NEST_OK(desc, desc_policy))
		return false;
	mnl_attr_for_each_nested(a, desc) {
		if (mnl_attr_get_type(a) != NFTA_SET_DESC_CONCAT)
			continue;
		mnl_attr_for_each_nested(f, a) {
			if (mnl_attr_validate(f, MNL_TYPE_NESTED) < 0)
				return false;
			mnl_attr_for_each_nested(x, f)
				if (mnl_attr_validate(x, MNL_TYPE_U32) < 0)
					return false;
		}
	}
	return true;
}

static bool set_msg_ok(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	if (!msg_attrs_ok(nlh, POLICY(set_policy)))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t t = mnl_attr_get_type(a);

		if ((t == NFTA_SET_DESC && !desc_ok(a)) ||
		    (t == NFTA_SET_EXPR && exprs_ok(a, true) < 1) ||
		    (t == NFTA_SET_EXPRESSIONS && exprs_ok(a, false) < 1))
			return false;
	}
	return true;
}

/* libnftnl keeps an element's attributes, and a list's, up to type
 * NFTA_SET_MAX in arrays sized for fewer: a type above theirs would be
 * written past the end of the stack array. */
static bool elems_msg_ok(const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *e, *x;

	if (!msg_attrs_ok(nlh, POLICY(elem_list_policy)))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) > NFTA_SET_ELEM_LIST_MAX)
			return false;
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			if (mnl_attr_validate(e, MNL_TYPE_NESTED) < 0 || !NEST_OK(e, elem_policy))
				return false;
			mnl_attr_for_each_nested(x, e) {
				uint16_t t = mnl_attr_get_type(x);

				if (t > NFTA_SET_ELEM_MAX)
					return false;

				if ((t == NFTA_SET_ELEM_EXPR && exprs_ok(x, true) < 1) ||
				    (t == NFTA_SET_ELEM_EXPRESSIONS && exprs_ok(x, false) < 1) ||
				    ((t == NFTA_SET_ELEM_KEY || t == NFTA_SET_ELEM_KEY_END ||
				      t == NFTA_SET_ELEM_DATA) && !data_ok(x)))
					return false;
			}
		}
	}
	return true;
}

/* 1: libnftnl may parse the rule, 0: well-formed but holding an
 * expression of a kind not checked here, -1: malformed. */
static int rule_msg_ok(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	int worst = 1, r;

	if (!msg_attrs_ok(nlh, POLICY(rule_policy)))
		return -1;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t t = mnl_attr_get_type(a);

		if (t == NFTA_RULE_COMPAT && !NEST_OK(a, compat_policy))
			return -1;
		if (t == NFTA_RULE_EXPRESSIONS && (r = exprs_ok(a, false)) < worst)
			worst = r;
	}
	return worst;
}

/* A string attribute of the message, when it is NUL-terminated. */
static const char *msg_str(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;
	const char *s = NULL;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == type)
			s = mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 ? mnl_attr_get_str(a) : NULL;
	return s;
}

/* ---- reading ------------------------------------------------------------ */

typedef int (*reply_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends one request and hands every reply to cb until the dump is done or
 * the request acknowledged. -EINTR: the dump was interrupted by a change
 * (NLM_F_DUMP_INTR) and must be read again. */
static int nl_talk(struct nft_handle *h, struct nlmsghdr *req, reply_cb cb, void *data)
{
	uint32_t seq = h->seq++;
	bool intr = false;
	int r = 0, left;
	ssize_t n;

	req->nlmsg_seq = seq;
	if (mnl_socket_sendto(h->nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(h->nl, h->rbuf, READ_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		left = (int)n;
		for (const struct nlmsghdr *nlh = (void *)h->rbuf; msg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != seq)
				continue;       /* a late answer to an earlier request */
			intr |= !!(nlh->nlmsg_flags & NLM_F_DUMP_INTR);
			if (nlh->nlmsg_type == NLMSG_ERROR && mnl_nlmsg_get_payload_len(nlh) >= sizeof(int) &&
			    ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error)
				return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
			if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)
				return intr ? -EINTR : r;
			if (r == 0)
				r = cb(nlh, data);
		}
	}
}

/* nl_talk() for one object's dump, read again while a commit anywhere in
 * the namespace interrupts it (NLM_F_DUMP_INTR): the kernel marks every
 * dump that overlapped any change, ours or not, and a dump of our own
 * objects is short, so on a busy host a few attempts get a clean one.
 * reset() empties what an interrupted attempt collected. */
static int talk_retry(struct nft_handle *h, struct nlmsghdr *req, reply_cb cb, void *data,
		      void (*reset)(void *), void *reset_arg)
{
	int r = -EINTR;

	for (int attempt = 0; attempt < DUMP_RETRIES && r == -EINTR; attempt++) {
		if (attempt && reset)
			reset(reset_arg);
		r = nl_talk(h, req, cb, data);
	}
	return r;
}

/* A request for this table: dumps carry no ack (their end is NLMSG_DONE),
 * single gets ask for one so the answer has an end. */
static struct nlmsghdr *req_hdr(char *buf, uint16_t type, bool dump)
{
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, dump ? NLM_F_DUMP : NLM_F_ACK, 0);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return -ENOMEM;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return 0;
}

static int read_gen(struct nft_handle *h, uint32_t *ret)
{
	char buf[256] = { 0 };      /* padding is sent as is */

	return nl_talk(h, req_hdr(buf, NFT_MSG_GETGEN, false), gen_cb, ret);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nft_live *live = data;

	if (!t)
		return -ENOMEM;
	if (!table_msg_ok(nlh)) {
		nftnl_table_free(t);
		return -EPROTO;
	}
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		live->table_flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		live->table_handle = nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE);
		/* Only a table with an owner carries the owner's port id. */
		live->table_owner = nftnl_table_is_set(t, NFTNL_TABLE_OWNER) ?
				    nftnl_table_get_u32(t, NFTNL_TABLE_OWNER) : 0;
	}
	nftnl_table_free(t);
	return 0;
}

static int read_table(struct nft_handle *h, struct nft_live *live)
{
	char buf[512] = { 0 };      /* padding is sent as is */
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh = req_hdr(buf, NFT_MSG_GETTABLE, false);

	if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULESET_TABLE) < 0) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nl_talk(h, nlh, table_cb, live);
}

static void *grow(void *p, size_t n, size_t size)
{
	/* Arrays grow by one: tables hold few chains, sets and rules. */
	return realloc(p, (n + 1) * size);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nft_live *live = data;
	struct nft_live_chain *lc;
	int r = 0;

	if (!c)
		return -ENOMEM;
	if (!chain_msg_ok(nlh)) {
		r = -EPROTO;
		goto out;
	}
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
	    strcmp(or_else(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), ""), RULESET_TABLE) != 0)
		goto out;
	lc = grow(live->chains, live->n_chains, sizeof(*lc));
	if (!lc) {
		r = -ENOMEM;
		goto out;
	}
	live->chains = lc;
	lc = &live->chains[live->n_chains++];
	memset(lc, 0, sizeof(*lc));
	snprintf(lc->name, sizeof(lc->name), "%s", or_else(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), ""));
	lc->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	snprintf(lc->type, sizeof(lc->type), "%s", or_else(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), ""));
	lc->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	lc->priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
	lc->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
out:
	nftnl_chain_free(c);
	return r;
}

static void chains_reset(void *arg)
{
	struct nft_live *live = arg;

	free(live->chains);
	live->chains = NULL;
	live->n_chains = 0;
}

static int read_chains(struct nft_handle *h, struct nft_live *live)
{
	char buf[256] = { 0 };      /* padding is sent as is */

	/* Chain dumps cannot be narrowed to a table; chain_cb filters. */
	return talk_retry(h, req_hdr(buf, NFT_MSG_GETCHAIN, true), chain_cb, live, chains_reset, live);
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nft_live *live = data;
	struct nft_live_set *ls;
	int r = 0;

	if (!s)
		return -ENOMEM;
	if (!set_msg_ok(nlh)) {
		r = -EPROTO;
		goto out;
	}
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 ||
	    strcmp(or_else(nftnl_set_get_str(s, NFTNL_SET_TABLE), ""), RULESET_TABLE) != 0)
		goto out;
	ls = grow(live->sets, live->n_sets, sizeof(*ls));
	if (!ls) {
		r = -ENOMEM;
		goto out;
	}
	live->sets = ls;
	ls = &live->sets[live->n_sets++];
	memset(ls, 0, sizeof(*ls));
	snprintf(ls->name, sizeof(ls->name), "%s", or_else(nftnl_set_get_str(s, NFTNL_SET_NAME), ""));
	ls->flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	ls->key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
	ls->key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
out:
	nftnl_set_free(s);
	return r;
}

static void sets_reset(void *arg)
{
	struct nft_live *live = arg;

	free(live->sets);           /* elements are read later, per set */
	live->sets = NULL;
	live->n_sets = 0;
}

static int read_sets(struct nft_handle *h, struct nft_live *live)
{
	char buf[512] = { 0 };      /* padding is sent as is */
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = req_hdr(buf, NFT_MSG_GETSET, true);

	if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE) < 0) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return talk_retry(h, nlh, set_cb, live, sets_reset, live);
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	if (!elems_msg_ok(nlh))
		return -EPROTO;
	return nftnl_set_elems_nlmsg_parse(nlh, *(struct nftnl_set **)data) < 0 ? -EPROTO : 0;
}

/* An interrupted element dump starts over with an empty set: libnftnl has
 * no call that drops a set's elements, so the set is made anew. */
static void elems_reset(void *arg)
{
	struct nftnl_set **s = arg, *fresh = nftnl_set_alloc();

	if (fresh && nftnl_set_set_str(fresh, NFTNL_SET_TABLE, RULESET_TABLE) == 0 &&
	    nftnl_set_set_str(fresh, NFTNL_SET_NAME,
			      or_else(nftnl_set_get_str(*s, NFTNL_SET_NAME), "")) == 0) {
		nftnl_set_free(*s);
		*s = fresh;
		return;
	}
	nftnl_set_free(fresh);
	/* Out of memory: keep the set; the retry's duplicates only make the
	 * comparison report a difference, never hide one. */
}

static int talk_elems(struct nft_handle *h, struct nlmsghdr *nlh, struct nftnl_set **s)
{
	return talk_retry(h, nlh, elems_cb, s, elems_reset, s);
}

/* Element keys back to ranges: a start key opens a range, an end key (one
 * past its last address) closes it, a start left open runs to the top. */
struct key {
	uint8_t k[16];
	uint8_t k_end[16];
	bool end, has_end;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int r = memcmp(x->k, y->k, sizeof(x->k));

	return r ? r : (int)y->end - (int)x->end;      /* an end sorts before a start */
}

static void key_dec(uint8_t *k, size_t len)
{
	for (size_t i = len; i > 0 && k[i - 1]-- == 0; i--)
		;
}

static size_t keys_to_ranges(struct key *keys, size_t n, size_t len, struct ruleset_range *out)
{
	size_t m = 0;
	bool open = false;

	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (open && (keys[i].end || !keys[i].has_end)) {
			/* closed by an end key, or by the next start right after */
			memcpy(out[m].end, keys[i].k, len);
			key_dec(out[m].end, len);
			m++;
			open = false;
		}
		if (keys[i].end)
			continue;       /* incl. nft's end key at 0 below the first range */
		memset(&out[m], 0, sizeof(out[m]));
		memcpy(out[m].start, keys[i].k, len);
		if (keys[i].has_end) {  /* ranges in one element (KEY_END) */
			memcpy(out[m++].end, keys[i].k_end, len);
			continue;
		}
		open = true;
	}
	if (open) {
		memset(out[m].end, 0xff, len);
		m++;
	}
	return m;
}

static int name_cmp(const void *a, const void *b)
{
	return strncmp(a, b, IFNAMSIZ);
}

/* Interface names of an ifname set, sorted as ruleset_set_internal()
 * keeps them. */
static int collect_names(struct nftnl_set *s, struct nft_live_set *ls)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	struct nftnl_set_elem *e;
	size_t cap = 0;
	uint32_t klen;
	const void *p;

	if (!it)
		return -ENOMEM;
	while ((e = nftnl_set_elems_iter_next(it))) {
		if (ls->n_names == cap) {
			char (*v)[IFNAMSIZ];

			cap = cap * 2 + 16;
			v = realloc(ls->names, cap * sizeof(*v));
			if (!v) {
				nftnl_set_elems_iter_destroy(it);
				return -ENOMEM;
			}
			ls->names = v;
		}
		memset(ls->names[ls->n_names], 0, IFNAMSIZ);
		p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		if (p)
			memcpy(ls->names[ls->n_names], p, klen < IFNAMSIZ - 1 ? klen : IFNAMSIZ - 1);
		ls->n_names++;
	}
	nftnl_set_elems_iter_destroy(it);
	if (ls->n_names > 1)
		qsort(ls->names, ls->n_names, sizeof(*ls->names), name_cmp);
	return 0;
}

static int read_names(struct nft_handle *h, struct nft_live_set *ls)
{
	char buf[512] = { 0 };      /* padding is sent as is */
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = req_hdr(buf, NFT_MSG_GETSETELEM, true);
	int r = -ENOMEM;

	if (s && nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE) == 0 &&
	    nftnl_set_set_str(s, NFTNL_SET_NAME, ls->name) == 0) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		r = talk_elems(h, nlh, &s);
		if (r == 0)
			r = collect_names(s, ls);
	}
	nftnl_set_free(s);
	return r;
}

/* An address set's elements straight from the messages: a 50,000-range
 * set is 100,000 elements, and parsing them through libnftnl costs an
 * allocation or three each, most of a no-op apply's time.
 *
 * The kernel dumps an interval set in key order, highest first (its
 * rbtree walks down from the top), so the ranges are made as the elements
 * arrive, with no array of keys and no sort: fresh memory is much of the
 * cost on a large set. A start key runs to one below the key before it in
 * the dump, whatever that is (or to the top when it is the first); end
 * keys only close. That is what keys_to_ranges() makes of the same keys
 * sorted. Keys in any other order, a repeated key, or an element that
 * carries its own range end (KEY_END) make the dump be read again the
 * general way: every key kept, then sorted. */
struct keys_sink {
	size_t len;                     /* key bytes: 4 or 16 */
	bool full;                      /* the general way */
	bool need_full;                 /* the stream met what it cannot follow */
	struct key *keys;               /* full: every element */
	struct ruleset_range *ranges;   /* stream: the ranges, highest first */
	size_t n, cap;
	uint8_t prev[16];               /* stream: the last key seen */
	bool has_prev;
};

/* The value inside an NFTA_SET_ELEM_KEY or _KEY_END nest; false when
 * absent or longer than the key. */
static bool data_value(const struct nlattr *nest, size_t len, uint8_t *out)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) == NFTA_DATA_VALUE && mnl_attr_get_payload_len(a) <= len) {
			memcpy(out, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
			return true;
		}
	}
	return false;
}

static void key_parse(const struct nlattr *elem, size_t len, struct key *key)
{
	const struct nlattr *a;

	memset(key, 0, sizeof(*key));
	mnl_attr_for_each_nested(a, elem) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY:
			data_value(a, len, key->k);
			break;
		case NFTA_SET_ELEM_KEY_END:
			key->has_end = data_value(a, len, key->k_end);
			break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				key->end = ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END;
			break;
		}
	}
}

static int sink_room(struct keys_sink *k)
{
	size_t cap = k->cap * 2 + 256;
	void *p;

	if (k->n < k->cap)
		return 0;
	p = k->full ? realloc(k->keys, cap * sizeof(*k->keys)) : realloc(k->ranges, cap * sizeof(*k->ranges));
	if (!p)
		return -ENOMEM;
	if (k->full)
		k->keys = p;
	else
		k->ranges = p;
	k->cap = cap;
	return 0;
}

static int stream_key(struct keys_sink *k, const struct key *key)
{
	struct ruleset_range *r;
	int err;

	if (k->need_full)
		return 0;               /* read again the general way */
	if (key->has_end || (k->has_prev && memcmp(key->k, k->prev, k->len) >= 0)) {
		k->need_full = true;
		return 0;
	}
	if (!key->end) {
		err = sink_room(k);
		if (err < 0)
			return err;
		r = &k->ranges[k->n++];
		memset(r, 0, sizeof(*r));
		memcpy(r->start, key->k, k->len);
		if (k->has_prev) {
			memcpy(r->end, k->prev, k->len);
			key_dec(r->end, k->len);
		} else {
			memset(r->end, 0xff, k->len);
		}
	}
	memcpy(k->prev, key->k, k->len);
	k->has_prev = true;
	return 0;
}

static int keys_elem(const struct nlattr *elem, struct keys_sink *k)
{
	struct key key;
	int r;

	if (!k->full) {
		key_parse(elem, k->len, &key);
		return stream_key(k, &key);
	}
	r = sink_room(k);
	if (r == 0)
		key_parse(elem, k->len, &k->keys[k->n++]);
	return r;
}

static int keys_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *e;
	int r;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return -EPROTO;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			if (mnl_attr_get_type(e) != NFTA_LIST_ELEM)
				continue;
			r = keys_elem(e, data);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void keys_reset(void *arg)
{
	struct keys_sink *k = arg;

	k->n = 0;
	k->need_full = k->has_prev = false;
}

/* The sink's ranges, ascending and normalised, into ls. */
static int sink_ranges(struct keys_sink *k, struct nft_live_set *ls, int family)
{
	size_t m;

	if (k->n == 0)
		return 0;
	if (k->full) {
		ls->ranges = calloc(k->n + 1, sizeof(*ls->ranges));
		if (!ls->ranges)
			return -ENOMEM;
		m = keys_to_ranges(k->keys, k->n, k->len, ls->ranges);
	} else {
		for (size_t i = 0, j = k->n - 1; i < j; i++, j--) {
			struct ruleset_range t = k->ranges[i];

			k->ranges[i] = k->ranges[j];
			k->ranges[j] = t;
		}
		ls->ranges = k->ranges;
		k->ranges = NULL;
		m = k->n;
	}
	ls->n_ranges = ruleset_normalize(ls->ranges, m, family);
	return 0;
}

static int read_elems(struct nft_handle *h, struct nft_live_set *ls)
{
	char buf[512] = { 0 };      /* padding is sent as is */
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh = req_hdr(buf, NFT_MSG_GETSETELEM, true);
	int family = ls->key_len == 4 ? AF_INET : AF_INET6;
	struct keys_sink sink = { .len = ls->key_len == 4 ? 4 : 16 };
	int r = -ENOMEM;

	if (ls->key_type == NFT_TYPE_IFNAME) {
		nftnl_set_free(s);
		return read_names(h, ls);
	}
	if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, ls->name) < 0)
		goto out;
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	r = talk_retry(h, nlh, keys_cb, &sink, keys_reset, &sink);
	if (r == 0 && sink.need_full) {
		/* The general way, for what our own tables never hold. */
		free(sink.ranges);
		sink = (struct keys_sink){ .len = sink.len, .full = true };
		r = talk_retry(h, nlh, keys_cb, &sink, keys_reset, &sink);
	}
	if (r == 0)
		r = sink_ranges(&sink, ls, family);
out:
	free(sink.keys);
	free(sink.ranges);
	if (s)
		nftnl_set_free(s);
	return r;
}

/* The expressions as text, counters without their values: what two rules
 * are compared by. */
static char *exprs_text(const struct nftnl_rule *r)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	char *text = NULL, body[512];
	size_t len = 0;
	FILE *f = it ? open_memstream(&text, &len) : NULL;

	if (!f) {
		nftnl_expr_iter_destroy(it);
		return NULL;
	}
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = or_else(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "?");

		body[0] = '\0';
		if (strcmp(name, "counter") != 0)
			nftnl_expr_snprintf(body, sizeof(body), e, NFTNL_OUTPUT_DEFAULT, 0);
		fprintf(f, "%s[ %s %s]", len || ftell(f) ? " " : "", name, body);
	}
	nftnl_expr_iter_destroy(it);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		snprintf(data, RULESET_COMMENT_MAX + 1, "%.*s", (int)nftnl_udata_len(attr),
			 (const char *)nftnl_udata_get(attr));
	return MNL_CB_OK;
}

static int counter_cb(struct nftnl_expr *e, void *data)
{
	struct nft_live_rule *lr = data;

	if (!lr->has_counter && strcmp(or_else(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), ""), "counter") == 0) {
		lr->has_counter = true;
		lr->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		lr->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static int live_rule_fill(struct nftnl_rule *r, struct nft_live_rule *lr)
{
	const void *ud;
	uint32_t len;

	memset(lr, 0, sizeof(*lr));
	lr->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
	if (ud)
		nftnl_udata_parse(ud, len, comment_cb, lr->comment);
	nftnl_expr_foreach(r, counter_cb, lr);
	lr->exprs = exprs_text(r);
	return lr->exprs ? 0 : -ENOMEM;
}

struct rules_ctx {
	const char *chain;
	struct nft_live_rule **rules;
	size_t *n;
};

/* What a rule of a kind we never write reads as: it compares unequal to
 * every rule of ours, so the table counts as changed. */
#define FOREIGN_RULE "[ an expression port53guard does not write ]"

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_rule *r = NULL;
	struct rules_ctx *c = data;
	struct nft_live_rule *lr;
	int ret = 0, ok = rule_msg_ok(nlh);

	if (ok < 0)
		return -EPROTO;
	if (strcmp(or_else(msg_str(nlh, NFTA_RULE_TABLE), ""), RULESET_TABLE) != 0 ||
	    strcmp(or_else(msg_str(nlh, NFTA_RULE_CHAIN), ""), c->chain) != 0)
		return 0;
	if (ok && !(r = nftnl_rule_alloc()))
		return -ENOMEM;
	if (r && nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		ret = -EPROTO;
		goto out;
	}
	lr = grow(*c->rules, *c->n, sizeof(*lr));
	if (!lr) {
		ret = -ENOMEM;
		goto out;
	}
	*c->rules = lr;
	if (r) {
		ret = live_rule_fill(r, &lr[*c->n]);
	} else {
		memset(&lr[*c->n], 0, sizeof(lr[*c->n]));
		lr[*c->n].exprs = strdup(FOREIGN_RULE);
		ret = lr[*c->n].exprs ? 0 : -ENOMEM;
	}
	if (ret == 0)
		(*c->n)++;
out:
	if (r)
		nftnl_rule_free(r);
	return ret;
}

static void rules_reset(void *arg)
{
	struct rules_ctx *c = arg;

	for (size_t i = 0; i < *c->n; i++)
		free((*c->rules)[i].exprs);
	free(*c->rules);
	*c->rules = NULL;
	*c->n = 0;
}

static int read_rules(struct nft_handle *h, const char *chain, struct nft_live_rule **rules,
		      size_t *n)
{
	char buf[512] = { 0 };      /* padding is sent as is */
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh = req_hdr(buf, NFT_MSG_GETRULE, true);
	struct rules_ctx c = { .chain = chain, .rules = rules, .n = n };

	if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return talk_retry(h, nlh, rule_cb, &c, rules_reset, &c);
}

/* ---- parsing without a socket (nft-internal.h) ---------------------------- */

/* Per set: its elements through both paths, or its names. */
struct feed_set {
	struct keys_sink stream, full;
	struct nftnl_set *names;
};

static int feed_elems(const struct nlmsghdr *nlh, struct nft_live_set *ls, struct feed_set *f)
{
	int r;

	if (ls->key_type == NFT_TYPE_IFNAME) {
		if (!f->names && !(f->names = nftnl_set_alloc()))
			return -ENOMEM;
		return elems_cb(nlh, &f->names);
	}
	r = keys_cb(nlh, &f->stream);
	return r ? r : keys_cb(nlh, &f->full);
}

/* The set's ranges the way read_elems() makes them, and whether the
 * stream would have been used and agrees with the general way. */
static int feed_finish(struct nft_live_set *ls, struct feed_set *f, bool *agree)
{
	int family = ls->key_len == 4 ? AF_INET : AF_INET6;
	struct nft_live_set general = { 0 };
	int r;

	if (ls->key_type == NFT_TYPE_IFNAME)
		return f->names ? collect_names(f->names, ls) : 0;
	r = sink_ranges(&f->full, &general, family);
	if (r == 0 && !f->stream.need_full) {
		r = sink_ranges(&f->stream, ls, family);
		if (r == 0 && (ls->n_ranges != general.n_ranges ||
			       (ls->n_ranges && memcmp(ls->ranges, general.ranges,
						       ls->n_ranges * sizeof(*ls->ranges)) != 0)))
			*agree = false;
		free(general.ranges);
	} else if (r == 0) {
		ls->ranges = general.ranges;
		ls->n_ranges = general.n_ranges;
	}
	return r;
}

int nft_parse_dump(const void *buf, size_t len, struct nft_live **ret, bool *paths_agree)
{
	struct nft_live *live = calloc(1, sizeof(*live));
	struct feed_set *fs = NULL;
	struct rules_ctx dns = { .chain = RULESET_CHAIN_DNS }, ingress = { .chain = RULESET_CHAIN };
	int left = len > INT_MAX ? INT_MAX : (int)len, r = 0;

	*paths_agree = true;
	if (!live)
		return -ENOMEM;
	dns.rules = &live->rules;
	dns.n = &live->n_rules;
	ingress.rules = &live->ingress;
	ingress.n = &live->n_ingress;
	for (const struct nlmsghdr *nlh = buf; r == 0 && msg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		size_t had = live->n_sets;

		switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
		case NFT_MSG_NEWTABLE:
			r = table_cb(nlh, live);
			break;
		case NFT_MSG_NEWCHAIN:
			r = chain_cb(nlh, live);
			break;
		case NFT_MSG_NEWSET:
			r = set_cb(nlh, live);
			if (r == 0 && live->n_sets > had) {
				struct feed_set *f = realloc(fs, live->n_sets * sizeof(*fs));
				struct nft_live_set *ls = &live->sets[had];

				if (!f) {
					r = -ENOMEM;
					break;
				}
				fs = f;
				fs[had] = (struct feed_set){
					.stream = { .len = ls->key_len == 4 ? 4 : 16 },
					.full = { .len = ls->key_len == 4 ? 4 : 16, .full = true },
				};
			}
			break;
		case NFT_MSG_NEWSETELEM:
			/* A dump holds one set's elements: they go to the last set. */
			if (live->n_sets)
				r = feed_elems(nlh, &live->sets[live->n_sets - 1], &fs[live->n_sets - 1]);
			break;
		case NFT_MSG_NEWRULE:
			r = rule_cb(nlh, &dns);
			if (r == 0)
				r = rule_cb(nlh, &ingress);
			break;
		}
	}
	for (size_t i = 0; i < live->n_sets; i++) {
		if (r == 0)
			r = feed_finish(&live->sets[i], &fs[i], paths_agree);
		free(fs[i].stream.ranges);
		free(fs[i].stream.keys);
		free(fs[i].full.ranges);
		free(fs[i].full.keys);
		if (fs[i].names)        /* nftnl_set_free() takes no NULL */
			nftnl_set_free(fs[i].names);
	}
	free(fs);
	if (r < 0) {
		nft_live_free(live);
		return r;
	}
	*ret = live;
	return 0;
}

static bool has_chain(const struct nft_live *live, const char *name)
{
	for (size_t i = 0; i < live->n_chains; i++)
		if (strcmp(live->chains[i].name, name) == 0)
			return true;
	return false;
}

/* This table's objects, each from a dump no commit interrupted, between
 * two reads of the table: -EAGAIN when the table was replaced (a new
 * handle) or deleted meanwhile. Commits to other tables do not matter, so
 * a host whose ruleset changes all the time (container runtimes,
 * orchestrators) is read as easily as a quiet one; a change to this table
 * between two of its objects' reads is drift and is compared as such. */
static int read_once(struct nft_handle *h, unsigned flags, struct nft_live *live)
{
	struct nft_live after = { 0 };
	int r = read_gen(h, &live->genid);

	if (r == 0)
		r = read_table(h, live);
	if (r == 0)
		r = read_chains(h, live);
	if (r == 0)
		r = read_sets(h, live);
	for (size_t i = 0; r == 0 && i < live->n_sets; i++) {
		if ((flags & NFT_READ_NO_RANGES) && live->sets[i].key_type != NFT_TYPE_IFNAME) {
			live->sets[i].ranges_unread = true;
			continue;
		}
		r = read_elems(h, &live->sets[i]);
	}
	if (r == 0 && has_chain(live, RULESET_CHAIN))
		r = read_rules(h, RULESET_CHAIN, &live->ingress, &live->n_ingress);
	if (r == 0 && has_chain(live, RULESET_CHAIN_DNS))
		r = read_rules(h, RULESET_CHAIN_DNS, &live->rules, &live->n_rules);
	if (r == 0) {
		r = read_table(h, &after);
		if (r == -ENOENT || (r == 0 && after.table_handle != live->table_handle))
			r = -EAGAIN;
	}
	return r;
}

int nft_read(struct nft_handle *h, struct nft_live **ret, char *errbuf, size_t errlen)
{
	return nft_read_flags(h, 0, ret, errbuf, errlen);
}

int nft_read_flags(struct nft_handle *h, unsigned flags, struct nft_live **ret, char *errbuf,
		   size_t errlen)
{
	struct nft_live *live;
	int r = -EBUSY;

	for (int attempt = 0; attempt < RETRIES; attempt++) {
		live = calloc(1, sizeof(*live));
		if (!live)
			return -ENOMEM;
		r = read_once(h, flags, live);
		if (r == 0) {
			*ret = live;
			return 0;
		}
		nft_live_free(live);
		if (r != -EAGAIN && r != -EINTR)
			break;
		r = -EBUSY;
	}
	if (r == -ENOENT)
		errf(errbuf, errlen, "table inet %s does not exist", RULESET_TABLE);
	else if (r == -EBUSY)
		errf(errbuf, errlen, "table inet %s kept being replaced, or its objects' dumps "
		     "interrupted, while it was read", RULESET_TABLE);
	else
		errf(errbuf, errlen, "reading table inet %s: %s", RULESET_TABLE, strerror(-r));
	return r;
}

void nft_live_free(struct nft_live *live)
{
	if (!live)
		return;
	for (size_t i = 0; i < live->n_rules; i++)
		free(live->rules[i].exprs);
	for (size_t i = 0; i < live->n_ingress; i++)
		free(live->ingress[i].exprs);
	for (size_t i = 0; i < live->n_sets; i++) {
		free(live->sets[i].ranges);
		free(live->sets[i].names);
	}
	free(live->rules);
	free(live->ingress);
	free(live->sets);
	free(live->chains);
	free(live);
}

unsigned nft_live_flags(const struct nft_live *live)
{
	return (live->table_flags & NFT_TABLE_F_OWNER ? NFT_APPLY_OWNER : 0) |
	       (live->table_flags & NFT_TABLE_F_PERSIST ? NFT_APPLY_PERSIST : 0);
}

const struct nft_live_rule *nft_live_find_rule(const struct nft_live *live, const char *comment)
{
	for (size_t i = 0; live && i < live->n_rules; i++)
		if (strcmp(live->rules[i].comment, comment) == 0)
			return &live->rules[i];
	return NULL;
}

/* ---- comparing -------------------------------------------------------- */

static int differ(char *diff, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int differ(char *diff, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (diff && len) {
		va_start(ap, fmt);
		vsnprintf(diff, len, fmt, ap);
		va_end(ap);
	}
	return 1;
}

static const char *hook_name(const struct nft_live_chain *c)
{
	static const char *const names[] = { "prerouting", "input", "forward", "output",
					     "postrouting", "ingress" };

	if (!c->base)
		return "none";
	return c->hooknum < sizeof(names) / sizeof(names[0]) ? names[c->hooknum] : "?";
}

static const struct nft_live_chain *find_chain(const struct nft_live *live, const char *name)
{
	for (size_t i = 0; i < live->n_chains; i++)
		if (strcmp(live->chains[i].name, name) == 0)
			return &live->chains[i];
	return NULL;
}

static int compare_chains(const struct nft_live *live, char *diff, size_t len)
{
	const struct nft_live_chain *c, *dns;

	for (size_t i = 0; i < live->n_chains; i++)
		if (strcmp(live->chains[i].name, RULESET_CHAIN) != 0 &&
		    strcmp(live->chains[i].name, RULESET_CHAIN_DNS) != 0)
			return differ(diff, len, "unexpected chain %s", live->chains[i].name);
	c = find_chain(live, RULESET_CHAIN);
	dns = find_chain(live, RULESET_CHAIN_DNS);
	if (!c)
		return differ(diff, len, "chain %s is missing", RULESET_CHAIN);
	if (!dns)
		return differ(diff, len, "chain %s is missing", RULESET_CHAIN_DNS);
	if (!c->base || strcmp(c->type, "filter") != 0 || c->hooknum != NF_INET_PRE_ROUTING ||
	    c->priority != RULESET_CHAIN_PRIORITY || c->policy != NF_ACCEPT)
		return differ(diff, len,
			      "chain %s is not \"type filter hook prerouting priority %d; policy accept\" "
			      "(found type %s hook %s priority %d policy %s)",
			      RULESET_CHAIN, RULESET_CHAIN_PRIORITY, c->type[0] ? c->type : "none",
			      hook_name(c), c->priority,
			      c->policy == NF_ACCEPT ? "accept" : c->policy == NF_DROP ? "drop" : "?");
	if (dns->base)
		return differ(diff, len, "chain %s is attached to hook %s; it must be a regular chain",
			      RULESET_CHAIN_DNS, hook_name(dns));
	return 0;
}

static const struct nft_live_set *find_set(const struct nft_live *live, const char *name)
{
	for (size_t i = 0; i < live->n_sets; i++)
		if (strcmp(live->sets[i].name, name) == 0)
			return &live->sets[i];
	return NULL;
}

static int compare_set(const struct nft_live_set *ls, const struct ruleset_set *s, char *diff,
		       size_t len)
{
	size_t klen = family_len(s->family), n = ls->n_ranges < s->n_ranges ? ls->n_ranges : s->n_ranges;
	char a[RULESET_RANGE_STRLEN], b[RULESET_RANGE_STRLEN];

	if (ls->key_len != klen || ls->key_type != (s->family == AF_INET ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR) ||
	    ls->flags != NFT_SET_INTERVAL)
		return differ(diff, len, "set %s is not \"type %s; flags interval\"", s->name,
			      s->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	if (ls->ranges_unread)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&ls->ranges[i], &s->ranges[i], sizeof(s->ranges[i])) != 0)
			return differ(diff, len, "set %s holds %s where %s is expected", s->name,
				      ruleset_range_format(s->family, &ls->ranges[i], a, sizeof(a)),
				      ruleset_range_format(s->family, &s->ranges[i], b, sizeof(b)));
	if (ls->n_ranges < s->n_ranges)
		return differ(diff, len, "set %s lacks %s (%zu of %zu ranges)", s->name,
			      ruleset_range_format(s->family, &s->ranges[n], a, sizeof(a)), ls->n_ranges,
			      s->n_ranges);
	if (ls->n_ranges > s->n_ranges)
		return differ(diff, len, "set %s holds %s too (%zu ranges, %zu expected)", s->name,
			      ruleset_range_format(s->family, &ls->ranges[n], a, sizeof(a)), ls->n_ranges,
			      s->n_ranges);
	return 0;
}

static int compare_sets(const struct nft_live *live, const struct ruleset *rs, char *diff,
			size_t len)
{
	const struct nft_live_set *ls;
	bool known;
	int r;

	for (size_t i = 0; i < live->n_sets; i++) {
		known = strcmp(live->sets[i].name, RULESET_SET_INTERNAL) == 0;
		for (size_t k = 0; k < RULESET_N_SETS; k++)
			known |= strcmp(live->sets[i].name, rs->sets[k].name) == 0;
		if (!known)
			return differ(diff, len, "unexpected set %s", live->sets[i].name);
	}
	ls = find_set(live, RULESET_SET_INTERNAL);
	if (!ls)
		return differ(diff, len, "set %s is missing", RULESET_SET_INTERNAL);
	if (ls->key_type != NFT_TYPE_IFNAME || ls->key_len != IFNAMSIZ || ls->flags != 0)
		return differ(diff, len, "set %s is not \"type ifname\"", RULESET_SET_INTERNAL);
	for (size_t k = 0; k < RULESET_N_SETS; k++) {
		ls = find_set(live, rs->sets[k].name);
		if (!ls)
			return differ(diff, len, "set %s is missing", rs->sets[k].name);
		r = compare_set(ls, &rs->sets[k], diff, len);
		if (r)
			return r;
	}
	return 0;
}

int nft_rule_exprs(const struct ruleset_rule *rr, char **ret)
{
	struct nftnl_rule *r;
	int ret_ = rule_build(rr, RULESET_CHAIN_DNS, &r);

	if (ret_ < 0)
		return ret_;
	*ret = exprs_text(r);
	nftnl_rule_free(r);
	return *ret ? 0 : -ENOMEM;
}

static int compare_rule(const struct nft_live_rule *lr, const struct ruleset_rule *rr,
			const char *chain, size_t pos, char *diff, size_t len)
{
	char text[RULESET_RULE_STRLEN], *want;
	int r = nft_rule_exprs(rr, &want);

	if (r < 0)
		return r;
	if (strcmp(want, lr->exprs) != 0 || strcmp(rr->comment, lr->comment) != 0)
		r = differ(diff, len, "chain %s rule %zu is not '%s' comment \"%s\" (found comment \"%s\": %s)",
			   chain, pos, ruleset_rule_format(rr, text, sizeof(text)), rr->comment, lr->comment,
			   lr->exprs);
	free(want);
	return r;
}

static int compare_chain_rules(const struct nft_live_rule *live, size_t n_live,
			       const struct ruleset_rule *want, size_t n_want, const char *chain,
			       char *diff, size_t len)
{
	size_t n = n_live < n_want ? n_live : n_want;
	char text[RULESET_RULE_STRLEN];
	int r;

	for (size_t i = 0; i < n; i++) {
		r = compare_rule(&live[i], &want[i], chain, i + 1, diff, len);
		if (r)
			return r;
	}
	if (n_live < n_want)
		return differ(diff, len, "chain %s rule %zu (%s) is missing (%zu rules, %zu expected)",
			      chain, n + 1, ruleset_rule_format(&want[n], text, sizeof(text)), n_live,
			      n_want);
	if (n_live > n_want)
		return differ(diff, len, "unexpected rule %zu in chain %s (comment \"%s\": %s)", n + 1,
			      chain, live[n].comment, live[n].exprs);
	return 0;
}

static int compare_rules(const struct nft_live *live, const struct ruleset *rs, char *diff,
			 size_t len)
{
	int r = compare_chain_rules(live->ingress, live->n_ingress, rs->ingress, rs->n_ingress,
				    RULESET_CHAIN, diff, len);

	return r ? r : compare_chain_rules(live->rules, live->n_rules, rs->rules, rs->n_rules,
					   RULESET_CHAIN_DNS, diff, len);
}

int nft_compare_internal(const struct nft_live *live, const struct ruleset *rs, char *diff,
			 size_t difflen)
{
	const struct nft_live_set *ls = live ? find_set(live, RULESET_SET_INTERNAL) : NULL;
	size_t i = 0, k = 0;
	int c;

	if (!ls)
		return differ(diff, difflen, "set %s is missing", RULESET_SET_INTERNAL);
	/* Both sorted: the first name only one side has is the difference. */
	while (i < ls->n_names || k < rs->n_internal) {
		c = i == ls->n_names ? 1 : k == rs->n_internal ? -1 :
		    strncmp(ls->names[i], rs->internal[k], IFNAMSIZ);
		if (c < 0)
			return differ(diff, difflen, "set %s holds \"%s\", which is not a host-internal interface",
				      RULESET_SET_INTERNAL, ls->names[i]);
		if (c > 0)
			return differ(diff, difflen, "set %s lacks \"%s\"", RULESET_SET_INTERNAL,
				      rs->internal[k]);
		i++;
		k++;
	}
	return 0;
}

int nft_compare(const struct nft_live *live, const struct ruleset *rs, char *diff, size_t difflen)
{
	int r;

	if (!live)
		return differ(diff, difflen, "table inet %s does not exist", RULESET_TABLE);
	if (live->table_flags & NFT_TABLE_F_DORMANT)
		return differ(diff, difflen, "table inet %s is dormant: its rules do nothing",
			      RULESET_TABLE);
	r = compare_chains(live, diff, difflen);
	if (r == 0)
		r = compare_sets(live, rs, diff, difflen);
	if (r == 0)
		r = compare_rules(live, rs, diff, difflen);
	return r;
}

int nft_compare_flags(const struct nft_live *live, unsigned flags, char *diff, size_t difflen)
{
	uint32_t want = (flags & NFT_APPLY_OWNER ? NFT_TABLE_F_OWNER : 0) |
			(flags & NFT_APPLY_PERSIST ? NFT_TABLE_F_PERSIST : 0);
	uint32_t have;

	if (!live)
		return differ(diff, difflen, "table inet %s does not exist", RULESET_TABLE);
	have = live->table_flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	if (have == want)
		return 0;
	return differ(diff, difflen, "table inet %s has flags%s%s%s where%s%s%s are expected",
		      RULESET_TABLE, have & NFT_TABLE_F_OWNER ? " owner" : "",
		      have & NFT_TABLE_F_PERSIST ? " persist" : "", have ? "" : " none",
		      want & NFT_TABLE_F_OWNER ? " owner" : "", want & NFT_TABLE_F_PERSIST ? " persist" : "",
		      want ? "" : " none");
}

int nft_verify(struct nft_handle *h, const struct ruleset *rs, struct nft_live **ret_live,
	       char *diff, size_t difflen)
{
	struct nft_live *live = NULL;
	int r = nft_read(h, &live, diff, difflen);

	if (r < 0 && r != -ENOENT)
		return r;
	r = nft_compare(live, rs, diff, difflen);
	if (r == 0)
		r = nft_compare_internal(live, rs, diff, difflen);
	if (r >= 0 && ret_live)
		*ret_live = live;
	else
		nft_live_free(live);
	return r;
}
