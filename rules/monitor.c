/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>

struct monitor {
	struct mnl_socket *nl;
	int family;
	char table[64];
	unsigned pending;               /* MONITOR_* seen since the last NEWGEN */
	monitor_cb cb;
	void *userdata;
};

int monitor_open(int family, const char *table, struct monitor **ret)
{
	int group = NFNLGRP_NFTABLES, r;
	/* Events come in bursts (one per element on a big set); a large receive
	 * buffer makes ENOBUFS rare, and ENOBUFS is still handled by a resync.
	 * Our own commits, the largest bursts, never queue here:
	 * monitor_ignore_portid(). */
	int rcvbuf = 4 << 20;
	struct monitor *m;

	if (strlen(table) >= sizeof(m->table))
		return -ENAMETOOLONG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->family = family;
	snprintf(m->table, sizeof(m->table), "%s", table);
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->nl) {
		r = -errno;
		goto fail;
	}
	if (mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(m->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		r = -errno;
		goto fail;
	}
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	*ret = m;
	return 0;
fail:
	monitor_close(m);
	return r;
}

int monitor_ignore_portid(struct monitor *m, uint32_t portid)
{
	/* Classic BPF sees the first netlink header of each queued skb; the
	 * kernel puts the notifications of one transaction in skbs of their
	 * own, all carrying the committing socket's port id. Absolute loads
	 * read in network byte order, so the constants are swapped alike. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_type)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 ntohs((uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN)), 3, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(portid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),           /* ours: dropped before it queues */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu), /* everyone else's, and every NEWGEN */
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (portid == 0)
		return -EINVAL;
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

void monitor_close(struct monitor *m)
{
	if (!m)
		return;
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m);
}

int monitor_fd(const struct monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

/* Every object message names its table in attribute 1 (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE,
 * NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE all equal 1). */
static bool names_our_table(const struct monitor *m, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g) || g->nfgen_family != m->family)
		return false;
	mnl_attr_for_each(attr, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(attr) != 1)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return false;
		return strcmp(mnl_attr_get_str(attr), m->table) == 0;
	}
	return false;
}

static unsigned classify(int type)
{
	switch (type) {
	case NFT_MSG_DELTABLE:
		return MONITOR_TABLE_DELETED;
	case NFT_MSG_NEWTABLE:
		return MONITOR_TABLE_CHANGED;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		return MONITOR_CHAIN_CHANGED;
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		return MONITOR_RULE_CHANGED;
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		return MONITOR_SET_CHANGED;
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		return MONITOR_ELEM_CHANGED;
	default:
		return MONITOR_OTHER_CHANGED;
	}
}

static void gen_done(struct monitor *m, const struct nlmsghdr *nlh)
{
	struct monitor_change c = { .what = m->pending, .portid = nlh->nlmsg_pid };
	const struct nlattr *attr;

	m->pending = 0;
	if (!c.what)
		return;
	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		switch (mnl_attr_get_type(attr)) {
		case NFTA_GEN_ID:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
				c.generation = ntohl(mnl_attr_get_u32(attr));
			break;
		case NFTA_GEN_PROC_PID:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
				c.pid = ntohl(mnl_attr_get_u32(attr));
			break;
		case NFTA_GEN_PROC_NAME: {
			size_t n = mnl_attr_get_payload_len(attr);

			if (n >= sizeof(c.comm))
				n = sizeof(c.comm) - 1;
			memcpy(c.comm, mnl_attr_get_payload(attr), n);
			c.comm[n] = '\0';
			break;
		}
		}
	}
	m->cb(&c, m->userdata);
}

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct monitor *m = data;
	int type;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return MNL_CB_OK;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type == NFT_MSG_NEWGEN)
		gen_done(m, nlh);
	else if (names_our_table(m, nlh))
		m->pending |= classify(type);
	return MNL_CB_OK;
}

int monitor_process(struct monitor *m, monitor_cb cb, void *userdata)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];

	m->cb = cb;
	m->userdata = userdata;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)
				m->pending = 0;         /* that generation's story is lost */
			return -errno;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, 0, on_message, m) < 0 && errno != ENOENT)
			return -errno;
	}
}

void monitor_describe(unsigned what, char *buf, size_t len)
{
	static const char *const names[] = {
		"table deleted", "table changed", "chain changed", "rules changed",
		"sets changed", "set elements changed", "other objects changed",
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(what & (1u << i)))
			continue;
		int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", names[i]);

		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}
