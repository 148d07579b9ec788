/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procmap.h"

/*
 * Who listens on a port (53): sock_diag dumps of unconnected UDP sockets
 * (state TCP_CLOSE, no remote port) and listening TCP sockets, IPv4 and
 * IPv6, filtered by the kernel on the local port (INET_DIAG_BC_S_COND
 * bytecode, as "ss 'sport = :53'"), so the cost does not grow with the
 * number of unrelated sockets. Optionally in every network namespace, and
 * with each socket's owning process from /proc.
 *
 * A listener's identity is (netns inode, proto, family, address, port,
 * socket inode): a server that restarts comes back as a new listener.
 */

enum listener_exposure {
	LISTENER_LOCAL,         /* loopback address or bound to the loopback device */
	LISTENER_BRIDGE,        /* address of / bound to a host-internal virtual interface */
	LISTENER_PUBLIC,        /* wildcard, or an address of any other interface */
};

/* One interface of a namespace, as the classification needs it. */
struct listeners_iface {
	uint32_t ifindex;
	uint32_t master;                /* bridge or bond it is a port of, 0: none */
	char name[IF_NAMESIZE];
	char kind[24];                  /* IFLA_INFO_KIND; "" for plain devices (NICs) */
	bool loopback;                  /* IFF_LOOPBACK */
};

struct listeners_ifaddr {
	uint32_t ifindex;
	uint8_t family;                 /* AF_INET or AF_INET6 */
	uint8_t addr[16];               /* network order; IPv4 in the first 4 bytes */
};

/* The interfaces and addresses of one namespace: plain data, so the
 * classification can be tested with tables written by hand. */
struct listeners_iftable {
	struct listeners_iface *ifaces;
	size_t n_ifaces;
	struct listeners_ifaddr *addrs;
	size_t n_addrs;
};

struct listener_netns {
	uint64_t inode;
	char *name;                     /* /run/netns name or NULL; raw bytes */
	bool self;                      /* the namespace the scan ran in */
	int error;                      /* negative errno when it could not be inspected */
	size_t n_listeners;
};

struct listener {
	const struct listener_netns *netns;     /* points into the owning set */
	uint8_t proto;                  /* IPPROTO_UDP or IPPROTO_TCP */
	uint8_t family;                 /* AF_INET or AF_INET6 */
	uint8_t addr[16];               /* network order; IPv4 in the first 4 bytes */
	uint16_t port;
	uint64_t inode;
	uint32_t uid;
	uint32_t ifindex;               /* bound device (SO_BINDTODEVICE), 0: none */
	char ifname[IF_NAMESIZE];       /* its name, "" when none or unknown */
	int8_t v6only;                  /* IPv6: 1 or 0 (a [::] socket then takes IPv4 too); -1 otherwise */
	bool has_cgroup_id;
	uint64_t cgroup_id;             /* cgroup v2 id (kernel >= 5.7) */
	enum listener_exposure exposure;
	char via[IF_NAMESIZE];          /* interface the exposure was decided by, "" for none */
	/* Public in another namespace that has a link of its own (macvlan,
	 * ipvlan, a moved NIC): the host's prerouting hook never sees it. */
	bool unfiltered;
	struct procmap_owner owner;     /* status PROCMAP_UNKNOWN when owners were not asked for */
};

struct listener_set {
	struct listener *items;         /* sorted by listener_cmp() */
	size_t n;
	struct listener_netns *netns;   /* own namespace first */
	size_t n_netns;
	uint64_t self_netns;
	bool namespaces_walked;
	size_t netns_denied;            /* processes whose namespace could not be seen */
	bool owners_denied;             /* some processes' fds could not be read; owners
	                                 * not found then have status PROCMAP_DENIED */
};

struct listeners_opts {
	uint16_t port;
	bool namespaces;                /* every namespace, not only the caller's own */
	bool owners;                    /* find owning processes in /proc */
};

#define LISTENERS_OPTS_DEFAULT ((struct listeners_opts){ .port = 53, .namespaces = true, .owners = true })

/*
 * The current listeners. A namespace that cannot be entered or dumped is
 * kept in the set with its error, and the scan goes on; only a failure that
 * leaves nothing to report (no sock_diag in the own namespace, ENOMEM, a
 * thread stranded in another namespace) fails the call.
 */
int listeners_scan(const struct listeners_opts *opts, struct listener_set **ret);
void listener_set_free(struct listener_set *s);

/* Total order on identities: own namespace first, then netns inode, UDP
 * before TCP, family, address, port, socket inode. */
int listener_cmp(const struct listener *a, const struct listener *b);

typedef void (*listeners_diff_fn)(const struct listener *l, void *userdata);

/* Calls removed() for each listener of old that new lacks and added() for
 * each of new that old lacks, by identity. Either set may be NULL (empty),
 * either callback NULL. Both sets must be sorted (listeners_scan's are). */
void listeners_diff(const struct listener_set *old, const struct listener_set *new,
		    listeners_diff_fn added, listeners_diff_fn removed, void *userdata);

/*
 * Exposure of a socket bound to addr (family AF_INET or AF_INET6, IPv4 in
 * the first 4 bytes) and to device ifindex (0: none) in a namespace with
 * interfaces t. Pure. *ret_via, when not NULL, is set to the interface that
 * decided it, or NULL (wildcard, loopback address, unknown address).
 */
enum listener_exposure listeners_classify(const struct listeners_iftable *t, uint8_t family,
					  const uint8_t addr[16], uint32_t ifindex,
					  const struct listeners_iface **ret_via);

/* Whether an interface is host-internal: its kind is virtual (bridge, veth,
 * tun, dummy, vxlan, geneve, wireguard, ...) and, for a bridge, none of its
 * ports is a plain or physical-backed device. */
bool listeners_iface_virtual(const struct listeners_iftable *t, const struct listeners_iface *i);

/* The same decision, with the reason as one short phrase in why (e.g.
 * "bridge with port eth1 (a NIC)"); why may be NULL. */
bool listeners_iface_explain(const struct listeners_iftable *t, const struct listeners_iface *i,
			     char *why, size_t len);

/* Dumps the caller's namespace's interfaces and addresses (rtnetlink,
 * RTM_GETLINK and RTM_GETADDR) into t, which must be empty; on failure t
 * may hold part of the dump and must still be cleared. */
int listeners_iftable_dump(struct listeners_iftable *t);

/* Whether a public listener of another namespace with interfaces t is out
 * of the host rule's reach: the interface it is reached by (l->via), or
 * for a wildcard any interface of the namespace, is a link of its own (not
 * host-internal by listeners_iface_virtual(), not loopback), through which
 * outside traffic arrives without crossing the host's prerouting hook.
 * *ret_link, when not NULL, is set to that link. Pure. */
bool listeners_unfiltered(const struct listeners_iftable *t, const struct listener *l,
			  const struct listeners_iface **ret_link);

const char *listener_exposure_to_string(enum listener_exposure e);
const char *listener_proto_to_string(uint8_t proto);

/* The address as text, IPv6 without brackets. buf of INET6_ADDRSTRLEN. */
const char *listener_addr_to_string(const struct listener *l, char *buf, size_t size);

/* Whether an IPv6 wildcard listener also takes IPv4 (v6only=0). */
bool listener_dual_stack(const struct listener *l);

/* For tests and other dumps: one sock_diag message into *ret (netns,
 * owner, exposure untouched). -EINVAL when it is malformed, -ENOENT when it
 * is a socket that is not a listener (UDP with a remote port). */
struct nlmsghdr;
int listeners_parse_diag(const struct nlmsghdr *nlh, uint8_t proto, struct listener *ret);

/* Builds the bytecode "local port == port" into buf (at least
 * LISTENERS_BYTECODE_SIZE bytes); returns its length. */
#define LISTENERS_BYTECODE_SIZE 12
size_t listeners_bytecode_port(uint8_t *buf, uint16_t port);

void listeners_iftable_clear(struct listeners_iftable *t);
