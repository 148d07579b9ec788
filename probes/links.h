/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The interfaces and addresses of the caller's network namespace, kept
 * current from rtnetlink (RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR), and which interfaces are host-internal: the
 * networks the host runs for its own containers and VMs, whose traffic a
 * cloud security group never sees.
 *
 * "Host-internal" is, by default, listeners_iface_virtual(): a virtual kind (bridge,
 * veth, tun, dummy, vxlan, ...), and for a bridge no NIC, bond or vlan
 * among its ports. An interface the table does not know yet is not
 * internal: what is not classified is treated as outside.
 *
 * For an epoll loop: links_fd() becomes readable on a change and
 * links_process() folds the events in (after a lost event, ENOBUFS, it
 * dumps everything again). The library never logs.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listeners.h"

struct links;

/* Dumps links and addresses and subscribes to their changes. -EPERM and
 * the like from the netlink socket; *ret is set only on success. */
int links_open(struct links **ret);
void links_free(struct links *l);

int links_fd(const struct links *l);

/* Reads every pending event without blocking. *ret_changed tells whether
 * the set of internal interfaces or of local addresses changed. */
int links_process(struct links *l, bool *ret_changed);

/* Per packet: cheap lookups, no allocation. links_internal() answers as
 * links_configure() set it (auto, the classification, by default); an
 * unknown ifindex is not internal. */
bool links_internal(const struct links *l, uint32_t ifindex);
bool links_local_addr(const struct links *l, int family, const uint8_t *addr);

/* The current table (for classification and check-config). */
const struct listeners_iftable *links_table(const struct links *l);

/* ---- additions: classification for the ruleset and check-config ---- */

struct links_name {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
};

/* A links object over a fixed table (copied), with no socket: links_fd()
 * is -1 and links_process() changes nothing. For tests and one-shot use. */
int links_new_from_table(const struct listeners_iftable *t, struct links **ret);

enum links_select_mode {
	LINKS_SELECT_AUTO,      /* the interfaces classified host-internal */
	LINKS_SELECT_NONE,      /* none */
	LINKS_SELECT_LIST,      /* the interfaces whose names match a pattern */
};

/* Which interfaces links_internal() and links_internal_names() call
 * internal, as [rules] internal_interfaces says; LINKS_SELECT_AUTO until
 * called. Patterns are copied ("X*" for a prefix). *ret_changed (optional) tells whether
 * the internal interfaces changed. -ENOMEM leaves everything as it was. */
int links_configure(struct links *l, enum links_select_mode mode, const char *const *patterns,
		    size_t n_patterns, bool *ret_changed);

/* The internal interfaces of the current table, sorted by name. Valid
 * until the next links_process() or links_configure(). */
const struct links_name *links_internal_names(const struct links *l, size_t *ret_n);

/* The interfaces of t that belong in the ruleset's "internal" set, sorted
 * by name without duplicates; loopback never (it has its own rule), nor a
 * name nft could not quote (holding '"', '\\', '*', a space or a control
 * byte): such an interface is refused, and links_internal() agrees.
 * Patterns are names, "X*" for a prefix. *ret (free() it) and *ret_n are
 * set only on success. */
int links_select(const struct listeners_iftable *t, enum links_select_mode mode,
		 const char *const *patterns, size_t n_patterns, struct links_name **ret,
		 size_t *ret_n);

/* Whether an interface name matches a pattern as nft's iifname does. */
bool links_name_matches(const char *pattern, const char *name);
