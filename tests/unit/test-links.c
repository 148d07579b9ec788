/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "links.h"
#include "listeners.h"

/* A host as hand-written tables: a NIC, a libvirt bridge with a tap, a
 * docker bridge with a veth, a LAN bridge holding a NIC, a bridge holding
 * a bond, a bridge holding a vlan, a bridge holding a macvlan, a lone
 * bridge, overlay and VPN devices, and a vlan and macvlan on the wire. */
enum {
	IF_LO = 1, IF_ETH0, IF_VIRBR0, IF_VNET0, IF_BRLAN, IF_ETH1, IF_DOCKER0, IF_VETH,
	IF_WG0, IF_VLAN, IF_BOND0, IF_BRBOND, IF_DUMMY, IF_VXLAN, IF_MACVLAN, IF_BRVLAN,
	IF_VLAN2, IF_BREMPTY, IF_BRMV, IF_MV2,
	/* far from the others: the hash must not assume small indexes */
	IF_BIG = 4000000000u,
};

static const struct listeners_iface ifaces[] = {
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
	{ IF_MACVLAN, 0, "mv0", "macvlan", false },
	{ IF_BRVLAN, 0, "br-vlan", "bridge", false },
	{ IF_VLAN2, IF_BRVLAN, "eth0.200", "vlan", false },
	{ IF_BREMPTY, 0, "br-empty", "bridge", false },
	{ IF_BRMV, 0, "br-mv", "bridge", false },
	{ IF_MV2, IF_BRMV, "mv2", "macvlan", false },
	{ IF_BIG, 0, "veth-big", "veth", false },
	{ IF_BIG - 1, 0, "veth\"q", "veth", false },    /* nft cannot quote it: never internal */
};
#define N_IFACES (sizeof(ifaces) / sizeof(ifaces[0]))

static const struct {
	uint32_t ifindex;
	const char *addr;
} addrs[] = {
	{ IF_LO, "127.0.0.1" }, { IF_LO, "::1" },
	{ IF_ETH0, "198.51.100.5" }, { IF_ETH0, "2001:db8::5" }, { IF_ETH0, "fe80::5" },
	{ IF_VIRBR0, "192.168.122.1" }, { IF_DOCKER0, "172.17.0.1" }, { IF_DOCKER0, "fd00:d0c::1" },
	{ IF_BRLAN, "203.0.113.10" }, { IF_WG0, "10.8.0.1" },
};
#define N_ADDRS (sizeof(addrs) / sizeof(addrs[0]))

static uint8_t parse_addr(const char *s, uint8_t *a)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, a) == 1)
		return AF_INET6;
	fail_msg("bad address in test table: %s", s);
	return 0;
}

static struct links *build(void)
{
	struct listeners_ifaddr a[N_ADDRS];
	struct listeners_iftable t = {
		.ifaces = (struct listeners_iface *)ifaces, .n_ifaces = N_IFACES,
		.addrs = a, .n_addrs = N_ADDRS,
	};
	struct links *l = NULL;

	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < N_ADDRS; i++) {
		a[i].ifindex = addrs[i].ifindex;
		a[i].family = parse_addr(addrs[i].addr, a[i].addr);
	}
	assert_int_equal(links_new_from_table(&t, &l), 0);
	assert_non_null(l);
	return l;
}

static void test_internal(void **state)
{
	static const struct {
		uint32_t ifindex;
		bool internal;
		const char *why;        /* a word the reason must contain */
	} cases[] = {
		{ IF_LO, false, "loopback" },
		{ IF_ETH0, false, "NIC" },
		{ IF_VIRBR0, true, "only virtual ports" },
		{ IF_VNET0, true, "tun" },
		{ IF_BRLAN, false, "eth1" },            /* a NIC among the ports */
		{ IF_ETH1, false, "NIC" },
		{ IF_DOCKER0, true, "only virtual ports" },
		{ IF_VETH, true, "veth" },
		{ IF_WG0, true, "wireguard" },
		{ IF_VLAN, false, "vlan" },
		{ IF_BOND0, false, "bond" },
		{ IF_BRBOND, false, "bond0" },          /* a bond among the ports */
		{ IF_DUMMY, true, "dummy" },
		{ IF_VXLAN, true, "vxlan" },
		{ IF_MACVLAN, false, "macvlan" },
		{ IF_BRVLAN, false, "eth0.200" },       /* a vlan among the ports */
		{ IF_VLAN2, false, "vlan" },
		{ IF_BREMPTY, true, "only virtual ports" },
		{ IF_BRMV, false, "mv2" },              /* a macvlan: on the wire */
		{ IF_MV2, false, "macvlan" },
		{ IF_BIG, true, "veth" },
		{ IF_BIG - 1, false, NULL },
		{ 0, false, NULL },                     /* no interface */
		{ 999, false, NULL },                   /* not classified yet: outside */
		{ IF_BIG + 1, false, NULL },
	};
	struct listeners_ifaddr a[1];
	struct listeners_iftable t = { .ifaces = (struct listeners_iface *)ifaces, .n_ifaces = N_IFACES,
				       .addrs = a, .n_addrs = 0 };
	struct links *l = build();
	char why[96];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (links_internal(l, cases[i].ifindex) != cases[i].internal)
			fail_msg("ifindex %u: internal=%d, expected %d", cases[i].ifindex,
				 !cases[i].internal, cases[i].internal);
		if (!cases[i].why)
			continue;
		for (size_t k = 0; k < N_IFACES; k++) {
			if (ifaces[k].ifindex != cases[i].ifindex)
				continue;
			assert_int_equal(listeners_iface_explain(&t, &ifaces[k], why, sizeof(why)),
					 cases[i].internal);
			assert_int_equal(listeners_iface_virtual(&t, &ifaces[k]), cases[i].internal);
			if (!strstr(why, cases[i].why))
				fail_msg("%s: reason \"%s\" lacks \"%s\"", ifaces[k].name, why, cases[i].why);
		}
	}
	links_free(l);
}

static void test_local_addr(void **state)
{
	static const struct {
		const char *addr;
		bool local;
	} cases[] = {
		{ "127.0.0.1", true }, { "127.0.0.53", true },  /* all of 127/8 is local */
		{ "::1", true },
		{ "198.51.100.5", true }, { "198.51.100.6", false },
		{ "2001:db8::5", true }, { "2001:db8::6", false }, { "fe80::5", true },
		{ "192.168.122.1", true }, { "172.17.0.1", true }, { "172.17.0.2", false },
		{ "fd00:d0c::1", true }, { "203.0.113.10", true }, { "10.8.0.1", true },
		{ "0.0.0.0", false }, { "255.255.255.255", false }, { "::", false },
		{ "::ffff:198.51.100.5", false },       /* a mapped address is not on the wire */
	};
	struct links *l = build();
	uint8_t a[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int family = parse_addr(cases[i].addr, a);

		if (links_local_addr(l, family, a) != cases[i].local)
			fail_msg("%s: local=%d, expected %d", cases[i].addr, !cases[i].local, cases[i].local);
	}
	assert_false(links_local_addr(l, AF_PACKET, a));
	assert_false(links_local_addr(NULL, AF_INET, a));
	assert_false(links_internal(NULL, IF_VETH));
	links_free(l);
}

static void test_select(void **state)
{
	static const char *const list[] = { "docker0", "veth*", "eth0", "nope*", "lo" };
	static const struct {
		enum links_select_mode mode;
		size_t n_patterns;
		const char *expect;     /* names, space separated, sorted */
	} cases[] = {
		{ LINKS_SELECT_AUTO, 0, "br-empty docker0 dummy0 veth-big veth1a2b virbr0 vnet0 vxlan42 wg0" },
		{ LINKS_SELECT_NONE, 5, "" },
		{ LINKS_SELECT_LIST, 5, "docker0 eth0 veth-big veth1a2b" },   /* never lo */
		{ LINKS_SELECT_LIST, 0, "" },
	};
	struct listeners_iftable t = { .ifaces = (struct listeners_iface *)ifaces, .n_ifaces = N_IFACES };
	struct links *l = build();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct links_name *v = NULL;
		char got[512] = "";
		size_t n = 0;

		assert_int_equal(links_select(&t, cases[i].mode, list, cases[i].n_patterns, &v, &n), 0);
		for (size_t k = 0; k < n; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "", v[k].name);
		if (strcmp(got, cases[i].expect) != 0)
			fail_msg("case %zu: \"%s\", expected \"%s\"", i, got, cases[i].expect);
		if (cases[i].mode == LINKS_SELECT_AUTO) {
			/* the live object's own list is the same as auto's */
			size_t m;
			const struct links_name *w = links_internal_names(l, &m);

			assert_int_equal(m, n);
			for (size_t k = 0; k < n; k++) {
				assert_string_equal(w[k].name, v[k].name);
				assert_int_equal(w[k].ifindex, v[k].ifindex);
			}
		}
		free(v);
	}
	links_free(l);
}

/* links_internal() follows links_configure(), and agrees with links_select(). */
static void test_configure(void **state)
{
	static const char *const list[] = { "br-*", "eth0", "lo" };
	static const struct {
		enum links_select_mode mode;
		size_t n;
		uint32_t in[6];         /* internal, 0-terminated */
		uint32_t out[6];        /* not internal */
	} cases[] = {
		{ LINKS_SELECT_LIST, 3, { IF_BRLAN, IF_ETH0, IF_BRBOND, IF_BREMPTY, 0 },
		  { IF_LO, IF_DOCKER0, IF_VETH, IF_BIG, 0 } },
		{ LINKS_SELECT_NONE, 3, { 0 }, { IF_DOCKER0, IF_VETH, IF_BRLAN, IF_ETH0, 0 } },
		{ LINKS_SELECT_AUTO, 3, { IF_DOCKER0, IF_VETH, IF_BIG, 0 }, { IF_BRLAN, IF_ETH0, IF_LO, 0 } },
		{ LINKS_SELECT_LIST, 0, { 0 }, { IF_DOCKER0, IF_BRLAN, 0 } },
	};
	struct listeners_iftable t = { .ifaces = (struct listeners_iface *)ifaces, .n_ifaces = N_IFACES };
	struct links *l = build();
	bool changed;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct links_name *v = NULL;
		const struct links_name *w;
		size_t n = 0, m = 0;

		assert_int_equal(links_configure(l, cases[i].mode, list, cases[i].n, &changed), 0);
		for (size_t k = 0; cases[i].in[k]; k++)
			if (!links_internal(l, cases[i].in[k]))
				fail_msg("case %zu: ifindex %u not internal", i, cases[i].in[k]);
		for (size_t k = 0; cases[i].out[k]; k++)
			if (links_internal(l, cases[i].out[k]))
				fail_msg("case %zu: ifindex %u internal", i, cases[i].out[k]);
		assert_int_equal(links_select(&t, cases[i].mode, list, cases[i].n, &v, &n), 0);
		w = links_internal_names(l, &m);
		assert_int_equal(m, n);
		for (size_t k = 0; k < n; k++)
			assert_string_equal(w[k].name, v[k].name);
		free(v);
	}
	/* The same selection again changes nothing. */
	assert_int_equal(links_configure(l, LINKS_SELECT_LIST, list, 0, &changed), 0);
	assert_false(changed);
	assert_int_equal(links_configure(l, LINKS_SELECT_AUTO, NULL, 0, &changed), 0);
	assert_true(changed);
	links_free(l);
}

static void test_name_matches(void **state)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} cases[] = {
		{ "eth0", "eth0", true }, { "eth0", "eth00", false }, { "eth0", "eth", false },
		{ "veth*", "veth", true }, { "veth*", "veth1a2b", true }, { "veth*", "vet", false },
		{ "br-*", "br-lan", true }, { "br-*", "bridge", false },
		{ "exactly15chars_", "exactly15chars_", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (links_name_matches(cases[i].pattern, cases[i].name) != cases[i].match)
			fail_msg("%s ~ %s: expected %d", cases[i].pattern, cases[i].name, cases[i].match);
}

static void test_static_object(void **state)
{
	struct listeners_iftable empty = { 0 };
	struct links *l = NULL;
	bool changed = true;
	size_t n = 1;

	(void)state;
	assert_int_equal(links_new_from_table(&empty, &l), 0);
	assert_int_equal(links_fd(l), -1);
	assert_int_equal(links_process(l, &changed), 0);
	assert_false(changed);
	(void)links_internal_names(l, &n);
	assert_int_equal(n, 0);
	assert_false(links_internal(l, 1));
	assert_int_equal(links_table(l)->n_ifaces, 0);
	links_free(l);
}

/* ---- the live object, in a network namespace of its own ---------------- */

/* Creates a link of a kind ("veth", "bridge", "macvlan") over rtnetlink,
 * with a master and a lower device (0: none). Returns 0 or a negative errno. */
static int link_add(const char *name, const char *kind, uint32_t master, uint32_t lower)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	struct nlattr *info;
	int r = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (lower)
		mnl_attr_put_u32(nlh, IFLA_LINK, lower);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, info);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		r = -errno;
	if (r == 0) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		r = n < 0 ? -errno : mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL);
		if (r < 0)
			r = -errno;
	}
	mnl_socket_close(nl);
	return r;
}

/* Waits (up to 2 s) for the events to make links_process report a change. */
static bool wait_change(struct links *l)
{
	for (int i = 0; i < 200; i++) {
		bool changed = false;

		if (links_process(l, &changed) < 0)
			return false;
		if (changed)
			return true;
		usleep(10000);
	}
	return false;
}

/* The child's checks, as an exit code: 0 pass, 77 skip, else the step. */
static int live_child(void)
{
	struct links *l = NULL;
	unsigned br, v0, v1;
	bool changed;

	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	if (links_open(&l) < 0)
		return 1;
	if (links_fd(l) < 0 || links_table(l)->n_ifaces != 1)      /* only lo */
		return 2;
	if (links_process(l, &changed) < 0 || changed)
		return 3;
	if (link_add("p53br0", "bridge", 0, 0) < 0)
		return 77;      /* no bridge module: nothing to prove here */
	if (!wait_change(l))
		return 4;
	br = if_nametoindex("p53br0");
	if (!br || !links_internal(l, br))
		return 5;
	/* A veth port keeps the bridge internal (its peer is made too). */
	if (link_add("p53v0", "veth", br, 0) < 0)
		return 77;
	if (!wait_change(l))
		return 6;
	v0 = if_nametoindex("p53v0");
	if (!links_internal(l, br) || !links_internal(l, v0))
		return 7;
	/* A macvlan port puts the bridge on the wire: outside from then on. */
	if (link_add("p53v1", "veth", 0, 0) < 0 || !(v1 = if_nametoindex("p53v1")))
		return 8;
	if (!wait_change(l))
		return 9;
	if (link_add("p53mv0", "macvlan", br, v1) < 0)
		return 77;
	if (!wait_change(l))
		return 10;
	if (links_internal(l, br) || !links_internal(l, v0) ||
	    links_internal(l, if_nametoindex("p53mv0")))
		return 11;
	links_free(l);
	return 0;
}

static void test_live(void **state)
{
	pid_t pid;
	int status = 0;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(live_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	if (WEXITSTATUS(status) != 0)
		fail_msg("live check failed at step %d", WEXITSTATUS(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_internal),
		cmocka_unit_test(test_local_addr),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_static_object),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
