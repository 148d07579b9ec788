/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "listeners.h"
#include "netns.h"
#include "procmap.h"

/* Parses "1.2.3.4" or "::1" into the listener address layout. */
static uint8_t parse_addr(const char *s, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	fail_msg("bad address in test table: %s", s);
	return 0;
}

/* ------------------------------------------------------ classification --- */

enum {
	IF_LO = 1, IF_ETH0, IF_VIRBR0, IF_VNET0, IF_BRLAN, IF_ETH1, IF_DOCKER0, IF_VETH,
	IF_WG0, IF_VLAN, IF_BOND0, IF_BRBOND, IF_DUMMY, IF_VXLAN, IF_TAP, IF_MACVLAN,
};

static const struct listeners_iface test_ifaces[] = {
	{ IF_LO, 0, "lo", "", true },
	{ IF_ETH0, 0, "eth0", "", false },
	{ IF_VIRBR0, 0, "virbr0", "bridge", false },
	{ IF_VNET0, IF_VIRBR0, "vnet0", "tun", false },
	{ IF_BRLAN, 0, "br-lan", "bridge", false },
	{ IF_ETH1, IF_BRLAN, "eth1", "", false },
	{ IF_DOCKER0, 0, "docker0", "bridge", false },
	{ IF_VETH, IF_DOCKER0, "veth1a2b", "veth", false },
	{ IF_WG0, 0, "wg0", "wireguard", false },
	{ IF_VLAN, 0, "eth0.100", "vlan", false },
	{ IF_BOND0, IF_BRBOND, "bond0", "bond", false },
	{ IF_BRBOND, 0, "br-bond", "bridge", false },
	{ IF_DUMMY, 0, "dummy0", "dummy", false },
	{ IF_VXLAN, 0, "vxlan42", "vxlan", false },
	{ IF_TAP, 0, "tap0", "tun", false },
	{ IF_MACVLAN, 0, "mv0", "macvlan", false },
};

static const struct {
	uint32_t ifindex;
	const char *addr;
} test_addrs[] = {
	{ IF_LO, "127.0.0.1" }, { IF_LO, "::1" }, { IF_LO, "192.0.2.53" },
	{ IF_ETH0, "10.0.0.5" }, { IF_ETH0, "2001:db8::5" }, { IF_ETH0, "fe80::5" },
	{ IF_VIRBR0, "192.168.122.1" }, { IF_BRLAN, "192.168.1.10" },
	{ IF_DOCKER0, "172.17.0.1" }, { IF_DOCKER0, "fd00:d0c::1" }, { IF_WG0, "10.8.0.1" },
	{ IF_VLAN, "10.100.0.1" }, { IF_BRBOND, "10.12.0.1" }, { IF_DUMMY, "10.99.0.1" },
	{ IF_VXLAN, "10.42.0.1" }, { IF_MACVLAN, "10.77.0.1" },
};

static void iftable_build(struct listeners_iftable *t, struct listeners_ifaddr *addrs)
{
	for (size_t i = 0; i < sizeof(test_addrs) / sizeof(test_addrs[0]); i++) {
		addrs[i].ifindex = test_addrs[i].ifindex;
		addrs[i].family = parse_addr(test_addrs[i].addr, addrs[i].addr);
	}
	t->ifaces = (struct listeners_iface *)test_ifaces;
	t->n_ifaces = sizeof(test_ifaces) / sizeof(test_ifaces[0]);
	t->addrs = addrs;
	t->n_addrs = sizeof(test_addrs) / sizeof(test_addrs[0]);
}

static void test_classify_one(const struct listeners_iftable *t, const char *addr, uint32_t ifindex,
			      enum listener_exposure expect, const char *expect_via)
{
	const struct listeners_iface *via = (void *)1;
	enum listener_exposure e;
	uint8_t a[16], family;

	family = parse_addr(addr, a);
	e = listeners_classify(t, family, a, ifindex, &via);
	if (e != expect)
		fail_msg("%s%%%u: exposure %s, expected %s", addr, ifindex,
			 listener_exposure_to_string(e), listener_exposure_to_string(expect));
	if (!expect_via && via)
		fail_msg("%s%%%u: decided by %s, expected no interface", addr, ifindex, via->name);
	if (expect_via && (!via || strcmp(via->name, expect_via) != 0))
		fail_msg("%s%%%u: decided by %s, expected %s", addr, ifindex, via ? via->name : "(none)",
			 expect_via);
}

static void test_classify(void **state)
{
	static const struct {
		const char *addr;
		uint32_t ifindex;
		enum listener_exposure expect;
		const char *via;
	} cases[] = {
		/* loopback addresses, with or without the device */
		{ "127.0.0.53", IF_LO, LISTENER_LOCAL, NULL },  /* systemd-resolved */
		{ "127.0.0.54", 0, LISTENER_LOCAL, NULL },
		{ "127.0.0.1", 0, LISTENER_LOCAL, NULL },       /* unbound */
		{ "127.255.255.254", 0, LISTENER_LOCAL, NULL },
		{ "::1", 0, LISTENER_LOCAL, NULL },
		{ "::ffff:127.0.0.1", 0, LISTENER_LOCAL, NULL },
		{ "127.0.0.1", IF_ETH0, LISTENER_LOCAL, NULL }, /* the address decides first */
		/* wildcards */
		{ "0.0.0.0", 0, LISTENER_PUBLIC, NULL },
		{ "::", 0, LISTENER_PUBLIC, NULL },
		{ "::ffff:0.0.0.0", 0, LISTENER_PUBLIC, NULL },
		/* wildcard bound to a device: the device decides */
		{ "0.0.0.0", IF_LO, LISTENER_LOCAL, "lo" },
		{ "::", IF_LO, LISTENER_LOCAL, "lo" },
		{ "0.0.0.0", IF_VIRBR0, LISTENER_BRIDGE, "virbr0" },
		{ "0.0.0.0", IF_ETH0, LISTENER_PUBLIC, "eth0" },
		{ "::", IF_WG0, LISTENER_BRIDGE, "wg0" },
		{ "0.0.0.0", 99, LISTENER_PUBLIC, NULL },       /* device gone: assume the worst */
		/* addresses of interfaces */
		{ "10.0.0.5", 0, LISTENER_PUBLIC, "eth0" },
		{ "2001:db8::5", 0, LISTENER_PUBLIC, "eth0" },
		{ "fe80::5", IF_ETH0, LISTENER_PUBLIC, "eth0" },
		{ "192.168.122.1", 0, LISTENER_BRIDGE, "virbr0" },      /* libvirt's dnsmasq */
		{ "::ffff:192.168.122.1", 0, LISTENER_BRIDGE, "virbr0" },
		{ "172.17.0.1", 0, LISTENER_BRIDGE, "docker0" },
		{ "fd00:d0c::1", 0, LISTENER_BRIDGE, "docker0" },
		{ "10.8.0.1", 0, LISTENER_BRIDGE, "wg0" },
		{ "10.99.0.1", 0, LISTENER_BRIDGE, "dummy0" },
		{ "10.42.0.1", 0, LISTENER_BRIDGE, "vxlan42" },
		{ "192.168.1.10", 0, LISTENER_PUBLIC, "br-lan" },       /* bridge with a NIC in it */
		{ "10.12.0.1", 0, LISTENER_PUBLIC, "br-bond" },         /* bridge with a bond in it */
		{ "10.100.0.1", 0, LISTENER_PUBLIC, "eth0.100" },       /* vlan: on the wire */
		{ "10.77.0.1", 0, LISTENER_PUBLIC, "mv0" },             /* macvlan: on the wire */
		{ "192.0.2.53", 0, LISTENER_PUBLIC, "lo" },     /* anycast service address on lo */
		{ "203.0.113.9", 0, LISTENER_PUBLIC, NULL },    /* on no interface (freebind) */
	};
	struct listeners_ifaddr addrs[sizeof(test_addrs) / sizeof(test_addrs[0])];
	struct listeners_iftable t;

	(void)state;
	iftable_build(&t, addrs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_classify_one(&t, cases[i].addr, cases[i].ifindex, cases[i].expect, cases[i].via);
}

static void test_classify_empty_table(void **state)
{
	struct listeners_iftable t = { 0 };
	uint8_t a[16];

	(void)state;
	/* Without interface data only the address itself can make it local. */
	parse_addr("10.0.0.5", a);
	assert_int_equal(listeners_classify(&t, AF_INET, a, 0, NULL), LISTENER_PUBLIC);
	parse_addr("127.0.0.1", a);
	assert_int_equal(listeners_classify(&t, AF_INET, a, 3, NULL), LISTENER_LOCAL);
}

static void test_iface_virtual(void **state)
{
	static const struct {
		uint32_t ifindex;
		bool expect;
	} cases[] = {
		{ IF_LO, false }, { IF_ETH0, false }, { IF_VIRBR0, true }, { IF_VNET0, true },
		{ IF_BRLAN, false }, { IF_ETH1, false }, { IF_DOCKER0, true }, { IF_VETH, true },
		{ IF_WG0, true }, { IF_VLAN, false }, { IF_BOND0, false }, { IF_BRBOND, false },
		{ IF_DUMMY, true }, { IF_VXLAN, true }, { IF_TAP, true }, { IF_MACVLAN, false },
	};
	struct listeners_ifaddr addrs[sizeof(test_addrs) / sizeof(test_addrs[0])];
	struct listeners_iftable t;

	(void)state;
	iftable_build(&t, addrs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct listeners_iface *f = &test_ifaces[cases[i].ifindex - 1];

		assert_int_equal(f->ifindex, cases[i].ifindex);
		if (listeners_iface_virtual(&t, f) != cases[i].expect)
			fail_msg("%s (%s): virtual=%d, expected %d", f->name, f->kind,
				 !cases[i].expect, cases[i].expect);
	}
}

/* ------------------------------------------------- out of the rule's reach --- */

/* A listener of another namespace as the scan leaves it: classified against
 * that namespace's interfaces, then judged. */
static bool unfiltered_one(const struct listeners_iftable *t, const char *addr, uint32_t ifindex,
			   const char **ret_link)
{
	const struct listeners_iface *via = NULL, *link = NULL;
	struct listener l = { .ifindex = ifindex };
	bool r;

	l.family = parse_addr(addr, l.addr);
	l.exposure = listeners_classify(t, l.family, l.addr, ifindex, &via);
	if (via)
		memcpy(l.via, via->name, sizeof(l.via));
	r = listeners_unfiltered(t, &l, &link);
	*ret_link = link ? link->name : NULL;
	return r;
}

static void test_unfiltered(void **state)
{
	/* A container behind a veth; a namespace with a macvlan on the wire
	 * and a veth to the host; one with a NIC moved in; one with a bridge
	 * over a vlan. */
	static const struct listeners_iface veth_ns[] = {
		{ 1, 0, "lo", "", true }, { 2, 0, "eth0", "veth", false },
	};
	static const struct listeners_iface macvlan_ns[] = {
		{ 1, 0, "lo", "", true }, { 2, 0, "eth0", "veth", false }, { 3, 0, "mv0", "macvlan", false },
	};
	static const struct listeners_iface nic_ns[] = {
		{ 1, 0, "lo", "", true }, { 4, 0, "enp3s0", "", false },
	};
	static const struct listeners_iface bridge_ns[] = {
		{ 1, 0, "lo", "", true }, { 5, 0, "br0", "bridge", false }, { 6, 5, "eth0.7", "vlan", false },
		{ 7, 5, "veth9", "veth", false },
	};
	static const struct {
		const struct listeners_iface *ifaces;
		size_t n_ifaces;
		const char *if_addr;    /* the namespace's addresses: one per non-lo interface, in order;
		                         * "lo=ADDR" puts one on lo */
		const char *addr;
		uint32_t ifindex;
		bool expect;
		const char *link;
	} cases[] = {
		{ veth_ns, 2, "192.0.2.10", "0.0.0.0", 0, false, NULL },              /* behind the host */
		{ veth_ns, 2, "192.0.2.10", "192.0.2.10", 0, false, NULL },
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "0.0.0.0", 0, true, "mv0" },
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "::", 0, true, "mv0" },
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "198.51.100.20", 0, true, "mv0" },
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "192.0.2.20", 0, false, NULL },  /* veth side */
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "127.0.0.1", 0, false, NULL },
		{ macvlan_ns, 3, "192.0.2.20,198.51.100.20", "0.0.0.0", 2, false, NULL },     /* bound to the veth */
		{ nic_ns, 2, "203.0.113.4", "0.0.0.0", 0, true, "enp3s0" },
		{ bridge_ns, 4, "203.0.113.5", "203.0.113.5", 0, true, "br0" },
		/* A service address on lo: reached over the namespace's links,
		 * a veth to the host here, so the host rule sees it. */
		{ veth_ns, 2, "lo=198.51.100.53,192.0.2.10", "198.51.100.53", 0, false, NULL },
		{ macvlan_ns, 3, "lo=198.51.100.53,192.0.2.20,203.0.113.20", "198.51.100.53", 0, true, "mv0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct listeners_ifaddr addrs[4] = { 0 };
		struct listeners_iftable t = { .ifaces = (struct listeners_iface *)cases[i].ifaces,
					       .n_ifaces = cases[i].n_ifaces, .addrs = addrs };
		char list[64];
		const char *link;
		bool got;
		size_t k = 1;

		snprintf(list, sizeof(list), "%s", cases[i].if_addr);
		for (char *save = NULL, *a = strtok_r(list, ",", &save); a && k < cases[i].n_ifaces;
		     a = strtok_r(NULL, ",", &save)) {
			bool on_lo = strncmp(a, "lo=", 3) == 0;     /* "lo=ADDR": an address of lo */

			addrs[t.n_addrs].ifindex = cases[i].ifaces[on_lo ? 0 : k].ifindex;
			addrs[t.n_addrs].family = parse_addr(on_lo ? a + 3 : a, addrs[t.n_addrs].addr);
			t.n_addrs++;
			k += !on_lo;
		}
		got = unfiltered_one(&t, cases[i].addr, cases[i].ifindex, &link);
		if (got != cases[i].expect)
			fail_msg("case %zu (%s%%%u): unfiltered=%d, expected %d", i, cases[i].addr, cases[i].ifindex,
				 got, cases[i].expect);
		if (cases[i].link && (!link || strcmp(link, cases[i].link) != 0))
			fail_msg("case %zu: link %s, expected %s", i, link ? link : "(none)", cases[i].link);
	}
}

/* ---------------------------------------------------------- sock_diag --- */

struct diag_spec {
	uint8_t family, state;
	const char *src;
	uint16_t sport, dport;
	uint32_t ifindex, inode, uid;
	int v6only;             /* -1: attribute absent */
	bool cgroup;
};

static struct nlmsghdr *diag_build(char *buf, const struct diag_spec *d)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_msg *m;
	uint8_t a[16];

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->idiag_family = d->family;
	m->idiag_state = d->state;
	parse_addr(d->src, a);
	memcpy(m->id.idiag_src, a, 16);
	m->id.idiag_sport = htons(d->sport);
	m->id.idiag_dport = htons(d->dport);
	m->id.idiag_if = d->ifindex;
	m->idiag_inode = d->inode;
	m->idiag_uid = d->uid;
	if (d->v6only >= 0)
		mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, (uint8_t)d->v6only);
	if (d->cgroup)
		mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, 0x1234567890ull);
	return nlh;
}

static void test_parse_diag(void **state)
{
	static const struct {
		uint8_t proto;
		struct diag_spec d;
		int ret;
	} cases[] = {
		{ IPPROTO_UDP, { AF_INET, TCP_CLOSE, "0.0.0.0", 53, 0, 0, 1001, 0, -1, true }, 0 },
		{ IPPROTO_UDP, { AF_INET, TCP_CLOSE, "127.0.0.53", 53, 0, 1, 1002, 991, -1, true }, 0 },
		{ IPPROTO_UDP, { AF_INET6, TCP_CLOSE, "::", 53, 0, 0, 1003, 0, 0, false }, 0 },
		{ IPPROTO_UDP, { AF_INET6, TCP_CLOSE, "::", 53, 0, 0, 1004, 0, 1, false }, 0 },
		{ IPPROTO_TCP, { AF_INET6, TCP_LISTEN, "fd53:1::1", 53, 0, 0, 1005, 0, 1, true }, 0 },
		/* a UDP client whose local port happens to be 53 */
		{ IPPROTO_UDP, { AF_INET, TCP_CLOSE, "10.0.0.5", 53, 53, 0, 1006, 0, -1, false }, -ENOENT },
		{ IPPROTO_UDP, { AF_INET, TCP_ESTABLISHED, "10.0.0.5", 53, 0, 0, 1007, 0, -1, false }, -ENOENT },
		{ IPPROTO_TCP, { AF_INET, TCP_ESTABLISHED, "10.0.0.5", 53, 0, 0, 1008, 0, -1, false }, -ENOENT },
		{ IPPROTO_UDP, { AF_UNIX, TCP_CLOSE, "0.0.0.0", 53, 0, 0, 1009, 0, -1, false }, -EINVAL },
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct diag_spec *d = &cases[i].d;
		struct listener l, sentinel;
		uint8_t a[16];
		int r;

		memset(&sentinel, 0x5a, sizeof(sentinel));
		l = sentinel;
		r = listeners_parse_diag(diag_build(buf, d), cases[i].proto, &l);
		if (r != cases[i].ret)
			fail_msg("case %zu (%s): %d, expected %d", i, d->src, r, cases[i].ret);
		if (r < 0) {
			assert_memory_equal(&l, &sentinel, sizeof(l));
			continue;
		}
		parse_addr(d->src, a);
		assert_int_equal(l.family, d->family);
		assert_int_equal(l.proto, cases[i].proto);
		assert_memory_equal(l.addr, a, 16);
		assert_int_equal(l.port, d->sport);
		assert_int_equal(l.ifindex, d->ifindex);
		assert_int_equal(l.inode, d->inode);
		assert_int_equal(l.uid, d->uid);
		assert_int_equal(l.v6only, d->v6only);
		assert_int_equal(l.has_cgroup_id, d->cgroup);
		if (d->cgroup)
			assert_int_equal(l.cgroup_id, 0x1234567890ull);
	}
}

static void test_parse_diag_malformed(void **state)
{
	struct diag_spec d = { AF_INET, TCP_CLOSE, "0.0.0.0", 53, 0, 0, 1, 0, -1, false };
	char buf[512];
	struct nlmsghdr *nlh;
	struct nlattr *attr;
	struct listener l;

	(void)state;
	/* Shorter than an inet_diag_msg. */
	nlh = diag_build(buf, &d);
	nlh->nlmsg_len = NLMSG_HDRLEN + 8;
	assert_int_equal(listeners_parse_diag(nlh, IPPROTO_UDP, &l), -EINVAL);
	/* An attribute claiming more than the message holds is not read. */
	nlh = diag_build(buf, &d);
	attr = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
	attr->nla_len = 200;
	assert_int_equal(listeners_parse_diag(nlh, IPPROTO_UDP, &l), 0);
	assert_int_equal(l.v6only, -1);
	/* A known attribute of the wrong size is ignored, not trusted. */
	nlh = diag_build(buf, &d);
	mnl_attr_put_u32(nlh, INET_DIAG_CGROUP_ID, 7);
	assert_int_equal(listeners_parse_diag(nlh, IPPROTO_UDP, &l), 0);
	assert_false(l.has_cgroup_id);
}

static void test_bytecode(void **state)
{
	uint8_t bc[LISTENERS_BYTECODE_SIZE];
	struct inet_diag_bc_op op;
	struct inet_diag_hostcond cond;

	(void)state;
	assert_int_equal(listeners_bytecode_port(bc, 53), sizeof(op) + sizeof(cond));
	memcpy(&op, bc, sizeof(op));
	memcpy(&cond, bc + sizeof(op), sizeof(cond));
	assert_int_equal(op.code, INET_DIAG_BC_S_COND);
	assert_int_equal(op.yes, LISTENERS_BYTECODE_SIZE);      /* match: run off the end */
	assert_int_equal(op.no, LISTENERS_BYTECODE_SIZE + 4);   /* no match: past it, reject */
	assert_int_equal(cond.family, AF_UNSPEC);
	assert_int_equal(cond.prefix_len, 0);
	assert_int_equal(cond.port, 53);
}

/* --------------------------------------------------------------- diff --- */

struct diff_log {
	char added[16][40];
	char removed[16][40];
	size_t n_added, n_removed;
};

static void diff_name(const struct listener *l, char *buf)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, 40, "%s/%s/%u/%u", listener_proto_to_string(l->proto),
		 listener_addr_to_string(l, a, sizeof(a)), (unsigned)l->inode,
		 (unsigned)l->netns->inode);
}

static void on_added(const struct listener *l, void *userdata)
{
	struct diff_log *d = userdata;

	diff_name(l, d->added[d->n_added++]);
}

static void on_removed(const struct listener *l, void *userdata)
{
	struct diff_log *d = userdata;

	diff_name(l, d->removed[d->n_removed++]);
}

static struct listener mk(const struct listener_netns *ns, uint8_t proto, const char *addr, uint64_t inode)
{
	struct listener l = { .netns = ns, .proto = proto, .port = 53, .inode = inode };

	l.family = parse_addr(addr, l.addr);
	return l;
}

static int cmp_qsort(const void *a, const void *b)
{
	return listener_cmp(a, b);
}

static void test_diff(void **state)
{
	struct listener_netns ns[2] = { { .inode = 900, .self = true }, { .inode = 100 } };
	struct listener a[] = {
		mk(&ns[0], IPPROTO_UDP, "0.0.0.0", 10),
		mk(&ns[0], IPPROTO_TCP, "0.0.0.0", 11),
		mk(&ns[0], IPPROTO_UDP, "127.0.0.1", 12),
		mk(&ns[1], IPPROTO_UDP, "0.0.0.0", 13),
	};
	struct listener b[] = {
		mk(&ns[0], IPPROTO_UDP, "0.0.0.0", 10),         /* unchanged */
		mk(&ns[0], IPPROTO_UDP, "127.0.0.1", 22),       /* restarted: new socket */
		mk(&ns[1], IPPROTO_UDP, "0.0.0.0", 13),         /* unchanged, other netns */
		mk(&ns[1], IPPROTO_UDP, "::", 14),              /* new */
	};
	struct listener_set old = { .items = a, .n = 4 }, new = { .items = b, .n = 4 };
	struct diff_log d = { 0 };

	(void)state;
	qsort(a, 4, sizeof(a[0]), cmp_qsort);
	qsort(b, 4, sizeof(b[0]), cmp_qsort);
	/* The own namespace sorts first even with the higher inode. */
	assert_true(a[0].netns->self);
	listeners_diff(&old, &new, on_added, on_removed, &d);
	assert_int_equal(d.n_removed, 2);
	assert_string_equal(d.removed[0], "udp/127.0.0.1/12/900");
	assert_string_equal(d.removed[1], "tcp/0.0.0.0/11/900");
	assert_int_equal(d.n_added, 2);
	assert_string_equal(d.added[0], "udp/127.0.0.1/22/900");
	assert_string_equal(d.added[1], "udp/::/14/100");

	memset(&d, 0, sizeof(d));
	listeners_diff(NULL, &new, on_added, on_removed, &d);
	assert_int_equal(d.n_added, 4);
	assert_int_equal(d.n_removed, 0);
	memset(&d, 0, sizeof(d));
	listeners_diff(&new, NULL, on_added, NULL, &d);
	assert_int_equal(d.n_added + d.n_removed, 0);
	listeners_diff(&new, &new, on_added, on_removed, &d);
	assert_int_equal(d.n_added + d.n_removed, 0);
}

/* ------------------------------------------------------ cgroup paths --- */

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cgroup_one(const char *path, const char *unit, const char *user_unit, const char *container)
{
	char *u = (char *)1, *uu = (char *)1, *c = (char *)1;
	int r;

	r = procmap_cgroup_unit(path, &u, &uu);
	if (!unit) {
		if (r != -ENXIO)
			fail_msg("%s: unit lookup %d, expected -ENXIO", path, r);
		if (u != (char *)1 || uu != (char *)1)
			fail_msg("%s: out-parameters set on failure", path);
	} else {
		if (r != 0 || strcmp(u, unit) != 0)
			fail_msg("%s: unit %s (%d), expected %s", path, r == 0 ? u : "-", r, unit);
		if (!user_unit != !uu || (uu && strcmp(uu, user_unit) != 0))
			fail_msg("%s: user unit %s, expected %s", path, uu ? uu : "(none)",
				 user_unit ? user_unit : "(none)");
		free(u);
		free(uu);
	}
	r = procmap_cgroup_container(path, &c);
	if (!container && (r != -ENXIO || c != (char *)1))
		fail_msg("%s: container %s (%d), expected none", path, r == 0 ? c : "-", r);
	if (container && (r != 0 || strcmp(c, container) != 0))
		fail_msg("%s: container %s (%d), expected %s", path, r == 0 ? c : "-", r, container);
	if (container)
		free(c);
}

static void test_cgroup_unit_container(void **state)
{
	static const struct {
		const char *path, *unit, *user_unit, *container;
	} cases[] = {
		{ "/system.slice/dnsmasq.service", "dnsmasq.service", NULL, NULL },
		{ "/system.slice/systemd-resolved.service", "systemd-resolved.service", NULL, NULL },
		{ "/system.slice/dnsmasq.service/payload", "dnsmasq.service", NULL, NULL },
		{ "//system.slice///unbound.service", "unbound.service", NULL, NULL },
		{ "/init.scope", "init.scope", NULL, NULL },
		{ "/system.slice/openvpn@home.service", "openvpn@home.service", NULL, NULL },
		{ "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", NULL, NULL },
		{ "/system.slice/_cpu.service", "cpu.service", NULL, NULL },    /* systemd's escape */
		{ "/system.slice/foo@.service", NULL, NULL, NULL },     /* a template owns no cgroup */
		{ "/system.slice/bad name.service", NULL, NULL, NULL },
		{ "/system.slice/noext", NULL, NULL, NULL },
		{ "/system.slice", NULL, NULL, NULL },
		{ "/", NULL, NULL, NULL },
		{ "", NULL, NULL, NULL },
		/* user managers hold the user's own units */
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/dnsmasq.service",
		  "user@1000.service", "dnsmasq.service", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/init.scope",
		  "user@1000.service", "init.scope", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice",
		  "user@1000.service", NULL, NULL },
		{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", NULL, NULL },
		{ "/user.slice/user-1000.slice/user@x.service/app.slice/a.service",
		  "user@x.service", NULL, NULL },
		/* containers */
		{ "/system.slice/docker-" HEX64 ".scope", "docker-" HEX64 ".scope", NULL, HEX64 },
		{ "/docker/" HEX64, NULL, NULL, HEX64 },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/"
		  "cri-containerd-" HEX64 ".scope", "cri-containerd-" HEX64 ".scope", NULL, HEX64 },
		{ "/machine.slice/crio-" HEX64 ".scope", "crio-" HEX64 ".scope", NULL, HEX64 },
		{ "/machine.slice/libpod-" HEX64 ".scope/container", "libpod-" HEX64 ".scope", NULL, HEX64 },
		{ "/machine.slice/libpod-conmon-" HEX64 ".scope", "libpod-conmon-" HEX64 ".scope", NULL, NULL },
		{ "/kubepods/besteffort/pod1a2b-3c4d/" HEX64, NULL, NULL, HEX64 },
		{ "/system.slice/docker-" HEX64 ".scope/system.slice/named.service",
		  "docker-" HEX64 ".scope", NULL, HEX64 },
		{ "/system.slice/docker-0123.scope", "docker-0123.scope", NULL, NULL },
		{ "/system.slice/docker-" HEX64 "0.scope", "docker-" HEX64 "0.scope", NULL, NULL },
		{ "/docker/" HEX64 "/x", NULL, NULL, HEX64 },
		{ "/notdocker/" HEX64, NULL, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_cgroup_one(cases[i].path, cases[i].unit, cases[i].user_unit, cases[i].container);
}

static void test_cgroup_path(void **state)
{
	static const struct {
		const char *text, *path;
	} cases[] = {
		{ "0::/system.slice/dnsmasq.service\n", "/system.slice/dnsmasq.service" },
		{ "0::/\n", "/" },
		/* cgroup v1 only: the name=systemd hierarchy */
		{ "12:pids:/system.slice/a.service\n1:name=systemd:/system.slice/b.service\n",
		  "/system.slice/b.service" },
		/* hybrid: the unified line wins wherever it is */
		{ "1:name=systemd:/system.slice/b.service\n0::/system.slice/c.service\n",
		  "/system.slice/c.service" },
		{ "10::/x.service\n", NULL },                   /* not hierarchy 0 */
		{ "0::/cut.service", NULL },                    /* no newline: cut short */
		{ "0::\n", NULL },
		{ "0:/x.service\n", NULL },
		{ "garbage\n", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = (char *)1;
		int r = procmap_cgroup_path(cases[i].text, strlen(cases[i].text), &p);

		if (!cases[i].path) {
			if (r >= 0 || p != (char *)1)
				fail_msg("case %zu: %d, expected an error", i, r);
			continue;
		}
		if (r != 0 || strcmp(p, cases[i].path) != 0)
			fail_msg("case %zu: %s (%d), expected %s", i, r == 0 ? p : "-", r, cases[i].path);
		free(p);
	}
}

static void test_socket_link(void **state)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t inode;
	} cases[] = {
		{ "socket:[123]", 0, 123 },
		{ "socket:[4294967296]", 0, 4294967296ull },
		{ "socket:[]", -EINVAL, 0 },
		{ "socket:[12a]", -EINVAL, 0 },
		{ "socket:[1", -EINVAL, 0 },
		{ "socket:123", -EINVAL, 0 },
		{ "pipe:[123]", -EINVAL, 0 },
		{ "socket:[99999999999999999999999]", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		int r = procmap_parse_socket_link(cases[i].s, strlen(cases[i].s), &v);

		if (r != cases[i].ret || (r == 0 && v != cases[i].inode) || (r < 0 && v != 7))
			fail_msg("\"%s\": %d/%llu", cases[i].s, r, (unsigned long long)v);
	}
}

/* ------------------------------------------------------------ procmap --- */

static void put_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void put_link(const char *dir, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void put_dir(const char *dir, const char *rel, mode_t mode)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A /proc look-alike: pid 100 is dnsmasq holding socket 555 among other
 * fds, pid 200 holds 777 and has a hostile comm, pid 300's fds are closed
 * to others. */
static void fake_proc(char *dir)
{
	strcpy(dir, "/tmp/p53-procmap.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	put_dir(dir, "100", 0755);
	put_dir(dir, "100/fd", 0755);
	put_link(dir, "100/fd/0", "/dev/null");
	put_link(dir, "100/fd/3", "socket:[554]");
	put_link(dir, "100/fd/4", "pipe:[555]");
	put_link(dir, "100/fd/5", "socket:[555]");
	put_link(dir, "100/exe", "/usr/sbin/dnsmasq");
	put_file(dir, "100/comm", "dnsmasq\n");
	put_file(dir, "100/cgroup", "0::/system.slice/dnsmasq.service\n");
	put_dir(dir, "200", 0755);
	put_dir(dir, "200/fd", 0755);
	put_link(dir, "200/fd/7", "socket:[777]");
	put_file(dir, "200/comm", "evil\x1b[31m\n\n");
	put_file(dir, "200/cgroup", "0::/system.slice/docker-" HEX64 ".scope\n");
	put_dir(dir, "300", 0755);
	put_dir(dir, "300/fd", 0);
	put_dir(dir, "self", 0755);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void fake_proc_remove(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/300/fd", dir);
	chmod(path, 0755);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void check_found(const char *dir)
{
	const uint64_t inodes[] = { 777, 555, 999 };
	struct procmap_result *res;
	const struct procmap_owner *o;

	assert_int_equal(procmap_lookup(dir, inodes, 3, &res), 0);
	assert_int_equal(res->n, 3);
	o = &res->owners[0];
	assert_int_equal(o->status, PROCMAP_FOUND);
	assert_int_equal(o->pid, 200);
	assert_string_equal(o->comm, "evil\x1b[31m\n");   /* raw: escaping is the printer's job */
	assert_null(o->exe);
	assert_string_equal(o->unit, "docker-" HEX64 ".scope");
	assert_string_equal(o->container, HEX64);
	o = &res->owners[1];
	assert_int_equal(o->status, PROCMAP_FOUND);
	assert_int_equal(o->pid, 100);
	assert_string_equal(o->comm, "dnsmasq");
	assert_string_equal(o->exe, "/usr/sbin/dnsmasq");
	assert_string_equal(o->unit, "dnsmasq.service");
	assert_null(o->user_unit);
	assert_null(o->container);
	/* Nobody holds 999: reported, with why it may be missing. */
	o = &res->owners[2];
	assert_int_equal(o->status, res->denied ? PROCMAP_DENIED : PROCMAP_UNKNOWN);
	assert_int_equal(o->pid, 0);
	assert_null(o->comm);
	procmap_result_free(res);
}

static void test_procmap_fake(void **state)
{
	char dir[64];
	pid_t pid;
	int status;

	(void)state;
	fake_proc(dir);
	if (geteuid() != 0) {
		check_found(dir);
	} else {
		/* Root reads every fd directory: look as nobody, in a child. */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(2);
			check_found(dir);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	fake_proc_remove(dir);
}

/* 0 when a lookup that cannot read pid 300's fds says so. */
static int denied_check(const char *dir)
{
	const uint64_t inodes[] = { 999 };
	struct procmap_result *res;
	int r = 0;

	if (procmap_lookup(dir, inodes, 1, &res) < 0)
		return 3;
	if (!res->denied || res->owners[0].status != PROCMAP_DENIED)
		r = 4;
	procmap_result_free(res);
	return r;
}

static void test_procmap_denied_flag(void **state)
{
	char dir[64];
	pid_t pid;
	int status;

	(void)state;
	fake_proc(dir);
	if (geteuid() != 0) {
		assert_int_equal(denied_check(dir), 0);
	} else {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(2);
			_exit(denied_check(dir));
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	fake_proc_remove(dir);
}

static void test_procmap_real(void **state)
{
	char comm[64] = "", exe[4096];
	struct procmap_result *res;
	struct stat st;
	uint64_t inode;
	ssize_t k;
	FILE *f;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	inode = (uint64_t)st.st_ino;
	assert_int_equal(procmap_lookup("/proc", &inode, 1, &res), 0);
	assert_int_equal(res->owners[0].status, PROCMAP_FOUND);
	assert_int_equal(res->owners[0].pid, getpid());
	f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	assert_string_equal(res->owners[0].comm, comm);
	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(k > 0);
	exe[k] = '\0';
	assert_string_equal(res->owners[0].exe, exe);
	procmap_result_free(res);
	close(fd);

	/* Nothing wanted: nothing walked, an empty answer. */
	assert_int_equal(procmap_lookup("/proc", NULL, 0, &res), 0);
	assert_int_equal(res->n, 0);
	procmap_result_free(res);
	assert_int_equal(procmap_lookup("/nonexistent-proc", &inode, 1, &res), -ENOENT);
}

/* -------------------------------------------------------------- netns --- */

/* A child parked in a network namespace of its own, as the target; with
 * listen set it holds a UDP socket on 0.0.0.0:53 there. Returns the pid,
 * negated when the namespace could not be made (no privilege). */
static pid_t netns_child(int *ret_fd, bool listen)
{
	int up[2], down[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(down, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Only the parent's end keeps the pipe open: its close (or
		 * death) is what ends the child. */
		close(up[0]);
		close(down[1]);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (c == 'y' && listen) {
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
			int u = socket(AF_INET, SOCK_DGRAM, 0);

			if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof(a)) < 0)
				c = 'n';
		}
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		(void)!read(down[0], &c, 1);    /* until the parent closes it */
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &c, 1), 1);
	close(up[0]);
	*ret_fd = down[1];
	return c == 'y' ? pid : -pid;
}

static void netns_child_end(pid_t pid, int fd)
{
	close(fd);
	waitpid(pid < 0 ? -pid : pid, NULL, 0);
}

/* Read independently of the code under test. */
static uint64_t self_ns_inode(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	return (uint64_t)st.st_ino;
}

struct netns_probe {
	uint64_t inside;
	int ret;
};

static int probe_fn(const struct netns_entry *e, void *userdata)
{
	struct netns_probe *p = userdata;

	(void)e;
	if (netns_self_inode(&p->inside) < 0)
		return -EBADF;
	return p->ret;
}

static void test_netns_return(void **state)
{
	struct netns_entry e = { 0 };
	struct netns_probe p = { 0 };
	uint64_t before, after;
	char path[64];
	struct stat st;
	pid_t pid;
	int fd;

	(void)state;
	pid = netns_child(&fd, false);
	if (pid < 0) {
		netns_child_end(pid, fd);
		skip();                 /* no CAP_SYS_ADMIN: nothing to enter */
	}
	before = self_ns_inode();
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	assert_int_equal(stat(path, &st), 0);
	e.inode = (uint64_t)st.st_ino;
	e.path = path;
	assert_true(e.inode != before);

	/* success inside, then an error from inside: back home both times */
	p.ret = 5;
	assert_int_equal(netns_run_in(&e, probe_fn, &p), 5);
	assert_int_equal(p.inside, e.inode);
	after = self_ns_inode();
	assert_int_equal(after, before);
	p.ret = -EIO;
	assert_int_equal(netns_run_in(&e, probe_fn, &p), -EIO);
	after = self_ns_inode();
	assert_int_equal(after, before);

	/* the path now leads elsewhere (pid reused): refused, never entered */
	p.inside = 0;
	e.inode++;
	assert_int_equal(netns_run_in(&e, probe_fn, &p), -ESTALE);
	assert_int_equal(p.inside, 0);
	e.inode--;
	netns_child_end(pid, fd);
	/* the process is gone */
	assert_int_equal(netns_run_in(&e, probe_fn, &p), -ENOENT);
	after = self_ns_inode();
	assert_int_equal(after, before);
}

static void test_netns_enumerate(void **state)
{
	struct netns_list *l;
	uint64_t self;
	pid_t pid;
	int fd;
	bool seen = false;
	char path[64];
	struct stat st;

	(void)state;
	pid = netns_child(&fd, false);
	assert_int_equal(netns_self_inode(&self), 0);
	assert_int_equal(netns_enumerate(&l), 0);
	assert_true(l->n >= 1);
	assert_int_equal(l->entries[0].inode, self);
	assert_true(l->entries[0].self);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)(pid < 0 ? -pid : pid));
	assert_int_equal(stat(path, &st), 0);
	for (size_t i = 0; i < l->n; i++) {
		for (size_t k = i + 1; k < l->n; k++)
			assert_true(l->entries[i].inode != l->entries[k].inode);
		seen |= l->entries[i].inode == (uint64_t)st.st_ino;
		if (i > 0)
			assert_false(l->entries[i].self);
	}
	assert_true(seen);      /* the child's namespace (or our own, without privilege) */
	netns_list_free(l);
	netns_child_end(pid, fd);

	assert_int_equal(netns_list_self(&l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->entries[0].inode, self);
	netns_list_free(l);
}

/* The whole scan from here: finds the child's listener in the child's
 * namespace, owned by the child, and leaves us where we were. */
static void test_scan_walk(void **state)
{
	struct listeners_opts o = LISTENERS_OPTS_DEFAULT;
	const struct listener *found = NULL;
	struct listener_set *s;
	uint64_t before = self_ns_inode(), child;
	char path[64];
	struct stat st;
	pid_t pid;
	int fd;

	(void)state;
	pid = netns_child(&fd, true);
	if (pid < 0) {
		netns_child_end(pid, fd);
		skip();
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	assert_int_equal(stat(path, &st), 0);
	child = (uint64_t)st.st_ino;
	assert_int_equal(listeners_scan(&o, &s), 0);
	assert_int_equal(self_ns_inode(), before);
	assert_true(s->netns[0].self);
	assert_int_equal(s->netns[0].inode, before);
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i].netns->inode == child)
			found = &s->items[i];
	assert_non_null(found);
	assert_false(found->netns->self);
	assert_int_equal(found->netns->error, 0);
	assert_int_equal(found->proto, IPPROTO_UDP);
	assert_int_equal(found->exposure, LISTENER_PUBLIC);
	assert_int_equal(found->owner.status, PROCMAP_FOUND);
	assert_int_equal(found->owner.pid, pid);
	listener_set_free(s);

	/* Walking turned off: only the own namespace, and the child unseen. */
	o.namespaces = false;
	assert_int_equal(listeners_scan(&o, &s), 0);
	assert_int_equal(s->n_netns, 1);
	for (size_t i = 0; i < s->n; i++)
		assert_true(s->items[i].netns->self);
	listener_set_free(s);
	netns_child_end(pid, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_empty_table),
		cmocka_unit_test(test_iface_virtual),
		cmocka_unit_test(test_unfiltered),
		cmocka_unit_test(test_parse_diag),
		cmocka_unit_test(test_parse_diag_malformed),
		cmocka_unit_test(test_bytecode),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_cgroup_unit_container),
		cmocka_unit_test(test_cgroup_path),
		cmocka_unit_test(test_socket_link),
		cmocka_unit_test(test_procmap_fake),
		cmocka_unit_test(test_procmap_denied_flag),
		cmocka_unit_test(test_procmap_real),
		cmocka_unit_test(test_netns_return),
		cmocka_unit_test(test_netns_enumerate),
		cmocka_unit_test(test_scan_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
