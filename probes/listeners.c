/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "listeners.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netns.h"

/* Large enough for any single message a dump sends (the kernel sizes dump
 * skbs at up to 32 KiB); a smaller buffer would truncate them. */
#define NL_DUMP_BUFSIZE 32768

/* ----------------------------------------------------------- netlink --- */

/* Every dump context starts with this, so the control callbacks can store
 * the kernel's error where the caller finds it. */
struct nl_ctx {
	int err;
};

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_ctx *c = data;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		c->err = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	c->err = e->error < 0 ? e->error : -e->error;
	return MNL_CB_ERROR;
}

/* A dump that failed half-way ends with NLMSG_DONE carrying the error. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *c = data;
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			c->err = err;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

static int nl_noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* Sends one dump request and feeds each reply to cb until the dump ends. */
static int nl_dump(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, struct nl_ctx *ctx)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = nl_noop_cb,
		[NLMSG_ERROR] = nl_error_cb,
		[NLMSG_DONE] = nl_done_cb,
		[NLMSG_OVERRUN] = nl_noop_cb,
	};
	char buf[NL_DUMP_BUFSIZE];
	unsigned portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int r;

	ctx->err = 0;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = mnl_cb_run2(buf, (size_t)n, req->nlmsg_seq, portid, cb, ctx, ctl,
				NLMSG_MIN_TYPE);
		if (r == MNL_CB_STOP)
			return 0;
		if (r == MNL_CB_ERROR)
			return ctx->err ? ctx->err : (errno ? -errno : -EBADMSG);
	}
}

static int nl_open(int bus, struct mnl_socket **ret)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	int r;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

/* -------------------------------------------------------- sock_diag --- */

size_t listeners_bytecode_port(uint8_t *buf, uint16_t port)
{
	struct inet_diag_bc_op op = {
		.code = INET_DIAG_BC_S_COND,
		/* Matching jumps to the end (accept); not matching jumps one
		 * word past it, which the kernel reads as reject. */
		.yes = LISTENERS_BYTECODE_SIZE,
		.no = LISTENERS_BYTECODE_SIZE + 4,
	};
	struct inet_diag_hostcond cond;

	/* The struct has padding, and all of it goes to the kernel. */
	memset(&cond, 0, sizeof(cond));
	cond.family = AF_UNSPEC;        /* any address of either family */
	cond.prefix_len = 0;
	cond.port = port;
	memcpy(buf, &op, sizeof(op));
	memcpy(buf + sizeof(op), &cond, sizeof(cond));
	return sizeof(op) + sizeof(cond);
}

static int diag_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	/* Unknown (newer) attributes and ones of the wrong size are left out. */
	if (type == INET_DIAG_SKV6ONLY && mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
		tb[type] = attr;
	else if (type == INET_DIAG_CGROUP_ID && mnl_attr_validate(attr, MNL_TYPE_U64) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

int listeners_parse_diag(const struct nlmsghdr *nlh, uint8_t proto, struct listener *ret)
{
	const struct nlattr *tb[INET_DIAG_MAX + 1] = { 0 };
	struct listener l = { .proto = proto, .v6only = -1 };
	const struct inet_diag_msg *m;

	if (nlh->nlmsg_len < NLMSG_HDRLEN || mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return -EINVAL;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;
	/* A UDP socket with a peer is a client (connected to a server's 53). */
	if (m->id.idiag_dport != 0 || m->idiag_state != (proto == IPPROTO_TCP ? TCP_LISTEN : TCP_CLOSE))
		return -ENOENT;
	if (mnl_attr_parse(nlh, sizeof(*m), diag_attr_cb, tb) < 0)
		return -EINVAL;
	l.family = m->idiag_family;
	memcpy(l.addr, m->id.idiag_src, l.family == AF_INET ? 4 : 16);
	l.port = ntohs(m->id.idiag_sport);
	l.inode = m->idiag_inode;
	l.uid = m->idiag_uid;
	l.ifindex = m->id.idiag_if;
	if (tb[INET_DIAG_SKV6ONLY])
		l.v6only = mnl_attr_get_u8(tb[INET_DIAG_SKV6ONLY]) ? 1 : 0;
	if (tb[INET_DIAG_CGROUP_ID]) {
		l.has_cgroup_id = true;
		l.cgroup_id = mnl_attr_get_u64(tb[INET_DIAG_CGROUP_ID]);
	}
	*ret = l;
	return 0;
}

struct diag_ctx {
	struct nl_ctx nl;
	struct listener_set *set;
	size_t *cap;
	const struct listener_netns *ns;
	uint8_t proto;
	uint16_t port;
};

static int set_push(struct listener_set *s, size_t *cap, const struct listener *l)
{
	struct listener *v;

	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		v = reallocarray(s->items, ncap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->items = v;
		*cap = ncap;
	}
	s->items[s->n++] = *l;
	return 0;
}

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct diag_ctx *c = data;
	struct listener l;
	int r;

	r = listeners_parse_diag(nlh, c->proto, &l);
	if (r == -ENOENT)
		return MNL_CB_OK;
	if (r < 0 || l.port != c->port) {
		/* The kernel filtered on the port; anything else is not ours to trust. */
		c->nl.err = r < 0 ? r : -EBADMSG;
		return MNL_CB_ERROR;
	}
	l.netns = c->ns;
	r = set_push(c->set, c->cap, &l);
	if (r < 0) {
		c->nl.err = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int diag_dump(struct mnl_socket *nl, uint8_t family, struct diag_ctx *c)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	uint8_t bc[LISTENERS_BYTECODE_SIZE];
	size_t bclen = listeners_bytecode_port(bc, c->port);

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL) ^ ((uint32_t)family << 8 | c->proto);
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = c->proto;
	/* UDP without a peer sits in TCP_CLOSE; connected UDP is ESTABLISHED. */
	req->idiag_states = 1u << (c->proto == IPPROTO_TCP ? TCP_LISTEN : TCP_CLOSE);
	mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bclen, bc);
	return nl_dump(nl, nlh, diag_cb, &c->nl);
}

/* ------------------------------------------------------- interfaces --- */

struct ift_ctx {
	struct nl_ctx nl;
	struct listeners_iftable *t;
	size_t cap_if, cap_addr;
};

void listeners_iftable_clear(struct listeners_iftable *t)
{
	free(t->ifaces);
	free(t->addrs);
	*t = (struct listeners_iftable){ 0 };
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(*v, ncap, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **kind = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
		*kind = attr;
	return MNL_CB_OK;
}

/* Copies a netlink string attribute into a fixed buffer, always terminated. */
static void attr_strcpy(char *dst, size_t size, const struct nlattr *attr)
{
	size_t n = mnl_attr_get_payload_len(attr);
	const char *s = mnl_attr_get_payload(attr);

	n = strnlen(s, n);
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct listeners_iface *i = data;
	const struct nlattr *kind = NULL;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
			attr_strcpy(i->name, sizeof(i->name), attr);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			i->master = mnl_attr_get_u32(attr);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0 &&
		    mnl_attr_parse_nested(attr, linkinfo_attr_cb, &kind) >= 0 && kind)
			attr_strcpy(i->kind, sizeof(i->kind), kind);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ift_ctx *c = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct listeners_iface i = { 0 };

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	i.ifindex = (uint32_t)ifi->ifi_index;
	i.loopback = ifi->ifi_flags & IFF_LOOPBACK;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &i) < 0)
		return MNL_CB_OK;
	if (grow((void **)&c->t->ifaces, &c->cap_if, c->t->n_ifaces, sizeof(i)) < 0) {
		c->nl.err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	c->t->ifaces[c->t->n_ifaces++] = i;
	return MNL_CB_OK;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == IFA_LOCAL || type == IFA_ADDRESS)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ift_ctx *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 }, *a;
	struct listeners_ifaddr x = { 0 };
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return MNL_CB_OK;
	/* IFA_LOCAL is the own address; IFA_ADDRESS is the peer on
	 * point-to-point links, and the own address otherwise. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return MNL_CB_OK;
	x.ifindex = ifa->ifa_index;
	x.family = ifa->ifa_family;
	memcpy(x.addr, mnl_attr_get_payload(a), alen);
	if (grow((void **)&c->t->addrs, &c->cap_addr, c->t->n_addrs, sizeof(x)) < 0) {
		c->nl.err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	c->t->addrs[c->t->n_addrs++] = x;
	return MNL_CB_OK;
}

/* A dump request for every object of one rtnetlink type (AF_UNSPEC). */
static struct nlmsghdr *rtnl_dump_req(char *buf, uint16_t type, size_t hdrlen, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	mnl_nlmsg_put_extra_header(nlh, hdrlen);
	return nlh;
}

int listeners_iftable_dump(struct listeners_iftable *t)
{
	char buf[128];
	struct ift_ctx c = { .t = t };
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	int r;

	r = nl_open(NETLINK_ROUTE, &nl);
	if (r < 0)
		return r;
	nlh = rtnl_dump_req(buf, RTM_GETLINK, sizeof(struct ifinfomsg), 1);
	/* Statistics are most of a link message and of no use here. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	r = nl_dump(nl, nlh, link_cb, &c.nl);
	if (r >= 0) {
		nlh = rtnl_dump_req(buf, RTM_GETADDR, sizeof(struct ifaddrmsg), 2);
		r = nl_dump(nl, nlh, addr_cb, &c.nl);
	}
	mnl_socket_close(nl);
	return r;
}

/* --------------------------------------------------- classification --- */

/* Kinds of interfaces that exist only inside the host: software bridges,
 * the pairs and taps that connect containers and VMs to them, and overlay
 * and VPN devices whose far side is a chosen peer rather than the LAN.
 * vlan, macvlan, ipvlan, bond and team are absent on purpose: they put the
 * address on a physical link. */
static const char *const virtual_kinds[] = {
	"bridge", "veth", "tun", "dummy", "vxlan", "geneve", "wireguard",
	"ifb", "nlmon", "vcan", "vxcan", "netkit", "bareudp",
};

static bool kind_virtual(const char *kind)
{
	for (size_t i = 0; i < sizeof(virtual_kinds) / sizeof(virtual_kinds[0]); i++)
		if (strcmp(kind, virtual_kinds[i]) == 0)
			return true;
	return false;
}

bool listeners_iface_explain(const struct listeners_iftable *t, const struct listeners_iface *i,
			     char *why, size_t len)
{
	char buf[1];

	if (!why || len == 0) {
		why = buf;
		len = sizeof(buf);
	}
	if (i->loopback) {
		snprintf(why, len, "loopback");
		return false;
	}
	if (!i->kind[0]) {
		snprintf(why, len, "a NIC (no virtual kind)");
		return false;
	}
	if (!kind_virtual(i->kind)) {
		snprintf(why, len, "kind %s puts its traffic on a physical link", i->kind);
		return false;
	}
	if (strcmp(i->kind, "bridge") != 0) {
		snprintf(why, len, "kind %s exists only inside the host", i->kind);
		return true;
	}
	/* A bridge with a NIC (or a bond or vlan of one) among its ports is
	 * the host's LAN presence, as on hypervisors bridging eth0. */
	for (size_t k = 0; k < t->n_ifaces; k++)
		if (t->ifaces[k].master == i->ifindex && !kind_virtual(t->ifaces[k].kind)) {
			snprintf(why, len, "bridge with port %s (%s)", t->ifaces[k].name,
				 t->ifaces[k].kind[0] ? t->ifaces[k].kind : "a NIC");
			return false;
		}
	snprintf(why, len, "bridge with only virtual ports");
	return true;
}

bool listeners_iface_virtual(const struct listeners_iftable *t, const struct listeners_iface *i)
{
	return listeners_iface_explain(t, i, NULL, 0);
}

static const struct listeners_iface *iftable_by_index(const struct listeners_iftable *t, uint32_t ifindex)
{
	for (size_t i = 0; i < t->n_ifaces; i++)
		if (t->ifaces[i].ifindex == ifindex)
			return &t->ifaces[i];
	return NULL;
}

static const struct listeners_iface *iftable_by_addr(const struct listeners_iftable *t, uint8_t family,
						     const uint8_t *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < t->n_addrs; i++)
		if (t->addrs[i].family == family && memcmp(t->addrs[i].addr, addr, alen) == 0)
			return iftable_by_index(t, t->addrs[i].ifindex);
	return NULL;
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ::ffff:a.b.c.d is IPv4 for every purpose here. */
static void addr_unmap(uint8_t *family, const uint8_t **addr)
{
	if (*family == AF_INET6 && memcmp(*addr, v4mapped_prefix, 12) == 0) {
		*family = AF_INET;
		*addr += 12;
	}
}

static bool addr_loopback(uint8_t family, const uint8_t *addr)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	return family == AF_INET ? addr[0] == 127 : memcmp(addr, v6lo, 16) == 0;
}

static bool addr_wildcard(uint8_t family, const uint8_t *addr)
{
	static const uint8_t zero[16] = { 0 };

	return memcmp(addr, zero, family == AF_INET ? 4 : 16) == 0;
}

static enum listener_exposure iface_exposure(const struct listeners_iftable *t,
					     const struct listeners_iface *i)
{
	if (i->loopback)
		return LISTENER_LOCAL;
	return listeners_iface_virtual(t, i) ? LISTENER_BRIDGE : LISTENER_PUBLIC;
}

enum listener_exposure listeners_classify(const struct listeners_iftable *t, uint8_t family,
					  const uint8_t addr[16], uint32_t ifindex,
					  const struct listeners_iface **ret_via)
{
	const struct listeners_iface *i = NULL;
	enum listener_exposure e;

	addr_unmap(&family, &addr);
	if (addr_loopback(family, addr)) {
		e = LISTENER_LOCAL;
	} else if (ifindex) {
		/* Bound to a device: only packets arriving on it reach the
		 * socket. A device that vanished decides nothing: public. */
		i = iftable_by_index(t, ifindex);
		e = i ? iface_exposure(t, i) : LISTENER_PUBLIC;
	} else if (addr_wildcard(family, addr)) {
		e = LISTENER_PUBLIC;
	} else {
		/* An address on lo that is not a loopback address (an anycast
		 * service address) is reachable from outside: public. */
		i = iftable_by_addr(t, family, addr);
		e = i && !i->loopback && listeners_iface_virtual(t, i) ? LISTENER_BRIDGE : LISTENER_PUBLIC;
	}
	if (ret_via)
		*ret_via = i;
	return e;
}

/* ------------------------------------------------------------- scan --- */

struct scan_ctx {
	const struct listeners_opts *opts;
	struct listener_set *set;
	size_t cap;
	struct listener_netns *ns;
};

static void classify_new(struct listener_set *s, size_t from, const struct listeners_iftable *t)
{
	for (size_t k = from; k < s->n; k++) {
		struct listener *l = &s->items[k];
		const struct listeners_iface *via, *dev;

		l->exposure = listeners_classify(t, l->family, l->addr, l->ifindex, &via);
		if (via)
			memcpy(l->via, via->name, sizeof(l->via));
		dev = l->ifindex ? iftable_by_index(t, l->ifindex) : NULL;
		if (dev)
			memcpy(l->ifname, dev->name, sizeof(l->ifname));
	}
}

/* A link of its own: outside traffic can reach the namespace through it
 * without crossing the host's prerouting hook (macvlan, ipvlan, a moved
 * NIC, a vlan, a bridge with such a port). */
static const struct listeners_iface *own_link(const struct listeners_iftable *t)
{
	for (size_t i = 0; i < t->n_ifaces; i++)
		if (!t->ifaces[i].loopback && !listeners_iface_virtual(t, &t->ifaces[i]))
			return &t->ifaces[i];
	return NULL;
}

bool listeners_unfiltered(const struct listeners_iftable *t, const struct listener *l,
			  const struct listeners_iface **ret_link)
{
	const struct listeners_iface *link, *via = NULL;

	if (l->exposure != LISTENER_PUBLIC)
		return false;

	for (size_t i = 0; l->via[0] && i < t->n_ifaces && !via; i++)
		if (strncmp(t->ifaces[i].name, l->via, sizeof(l->via)) == 0)
			via = &t->ifaces[i];
	/* An address on lo (an anycast service address) is reached over
	 * whatever links the namespace has: lo itself is no way in. */
	if (via && !via->loopback)
		link = listeners_iface_virtual(t, via) ? NULL : via;
	else
		link = own_link(t);
	if (link && ret_link)
		*ret_link = link;
	return link != NULL;
}

static void mark_unfiltered(struct listener_set *s, size_t from, const struct listeners_iftable *t)
{
	for (size_t k = from; k < s->n; k++) {
		struct listener *l = &s->items[k];
		const struct listeners_iface *link;

		l->unfiltered = listeners_unfiltered(t, l, &link);
		if (l->unfiltered && !l->via[0])
			memcpy(l->via, link->name, sizeof(l->via));
	}
}

/* Runs inside the namespace: dumps, then classifies against the same
 * namespace's interfaces (read only when something listens). */
static int scan_one(const struct netns_entry *e, void *userdata)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	struct scan_ctx *sc = userdata;
	struct diag_ctx dc = { .set = sc->set, .cap = &sc->cap, .ns = sc->ns, .port = sc->opts->port };
	struct listeners_iftable t = { 0 };
	size_t from = sc->set->n;
	struct mnl_socket *nl = NULL;
	int r;

	(void)e;
	r = nl_open(NETLINK_SOCK_DIAG, &nl);
	for (size_t p = 0; r >= 0 && p < sizeof(protos); p++)
		for (size_t f = 0; r >= 0 && f < sizeof(families); f++) {
			dc.proto = protos[p];
			r = diag_dump(nl, families[f], &dc);
		}
	if (nl)
		mnl_socket_close(nl);
	if (r < 0)
		return r;
	sc->ns->n_listeners = sc->set->n - from;
	if (sc->set->n == from)
		return 0;
	r = listeners_iftable_dump(&t);
	classify_new(sc->set, from, &t);
	if (!sc->ns->self)
		mark_unfiltered(sc->set, from, &t);
	listeners_iftable_clear(&t);
	return r;
}

void listener_set_free(struct listener_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		procmap_owner_clear(&s->items[i].owner);
	for (size_t i = 0; i < s->n_netns; i++)
		free(s->netns[i].name);
	free(s->items);
	free(s->netns);
	free(s);
}

/* The namespace table is sized once, so listeners can point into it. */
static int set_new(const struct netns_list *nl, const struct listeners_opts *opts,
		   struct listener_set **ret)
{
	struct listener_set *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->netns = calloc(nl->n ? nl->n : 1, sizeof(*s->netns));
	if (!s->netns) {
		free(s);
		return -ENOMEM;
	}
	s->self_netns = nl->self_inode;
	s->namespaces_walked = opts->namespaces;
	s->netns_denied = nl->denied;
	for (size_t i = 0; i < nl->n; i++, s->n_netns++) {
		struct listener_netns *ns = &s->netns[i];

		ns->inode = nl->entries[i].inode;
		ns->self = nl->entries[i].self;
		if (nl->entries[i].name && !(ns->name = strdup(nl->entries[i].name))) {
			listener_set_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

/* A namespace that cannot be looked into is reported, not fatal; the own
 * namespace failing, running out of memory or being stranded is. */
static int scan_namespaces(struct listener_set *s, const struct netns_list *nl,
			   const struct listeners_opts *opts)
{
	struct scan_ctx sc = { .opts = opts, .set = s };
	int r;

	for (size_t i = 0; i < nl->n; i++) {
		sc.ns = &s->netns[i];
		r = netns_run_in(&nl->entries[i], scan_one, &sc);
		if (r >= 0)
			continue;
		if (r == -ENOTRECOVERABLE || r == -ENOMEM || nl->entries[i].self)
			return r;
		sc.ns->error = r;
	}
	return 0;
}

/* Socket inodes are global, so one /proc walk serves every namespace. */
static int scan_owners(struct listener_set *s)
{
	struct procmap_result *res;
	uint64_t *inodes;
	int r;

	inodes = calloc(s->n ? s->n : 1, sizeof(*inodes));
	if (!inodes)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		inodes[i] = s->items[i].inode;
	r = procmap_lookup("/proc", inodes, s->n, &res);
	free(inodes);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n; i++) {
		s->items[i].owner = res->owners[i];
		res->owners[i] = (struct procmap_owner){ 0 };
	}
	s->owners_denied = res->denied;
	procmap_result_free(res);
	return 0;
}

static int listener_qsort_cmp(const void *a, const void *b)
{
	return listener_cmp(a, b);
}

int listeners_scan(const struct listeners_opts *opts, struct listener_set **ret)
{
	struct listener_set *s = NULL;
	struct netns_list *nl;
	int r;

	r = opts->namespaces ? netns_enumerate(&nl) : netns_list_self(&nl);
	if (r < 0)
		return r;
	r = set_new(nl, opts, &s);
	if (r >= 0)
		r = scan_namespaces(s, nl, opts);
	if (r >= 0 && opts->owners)
		r = scan_owners(s);
	netns_list_free(nl);
	if (r < 0) {
		listener_set_free(s);
		return r;
	}
	if (s->n > 1)
		qsort(s->items, s->n, sizeof(*s->items), listener_qsort_cmp);
	*ret = s;
	return 0;
}

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

int listener_cmp(const struct listener *a, const struct listener *b)
{
	int r;

	CMP(!a->netns->self, !b->netns->self);
	CMP(a->netns->inode, b->netns->inode);
	/* UDP first: it is what the cloud rule is about. */
	CMP(a->proto != IPPROTO_UDP, b->proto != IPPROTO_UDP);
	CMP(a->proto, b->proto);
	CMP(a->family, b->family);
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r < 0 ? -1 : 1;
	CMP(a->port, b->port);
	CMP(a->inode, b->inode);
	return 0;
}

void listeners_diff(const struct listener_set *old, const struct listener_set *new,
		    listeners_diff_fn added, listeners_diff_fn removed, void *userdata)
{
	size_t i = 0, j = 0, no = old ? old->n : 0, nn = new ? new->n : 0;
	int c;

	while (i < no || j < nn) {
		if (i == no)
			c = 1;
		else if (j == nn)
			c = -1;
		else
			c = listener_cmp(&old->items[i], &new->items[j]);
		if (c < 0) {
			if (removed)
				removed(&old->items[i], userdata);
			i++;
		} else if (c > 0) {
			if (added)
				added(&new->items[j], userdata);
			j++;
		} else {
			i++;
			j++;
		}
	}
}

/* ------------------------------------------------------------ names --- */

const char *listener_exposure_to_string(enum listener_exposure e)
{
	switch (e) {
	case LISTENER_LOCAL:
		return "local";
	case LISTENER_BRIDGE:
		return "bridge";
	case LISTENER_PUBLIC:
		break;
	}
	return "public";
}

const char *listener_proto_to_string(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

const char *listener_addr_to_string(const struct listener *l, char *buf, size_t size)
{
	if (!inet_ntop(l->family, l->addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

bool listener_dual_stack(const struct listener *l)
{
	static const uint8_t zero[16] = { 0 };

	return l->family == AF_INET6 && l->v6only == 0 && memcmp(l->addr, zero, 16) == 0;
}
