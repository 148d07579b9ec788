/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Watches nftables change notifications (group NFNLGRP_NFTABLES) for one
 * table and reports every committed generation that touched it, with the
 * process that committed it: the kernel sends one message per changed object,
 * then NEWGEN carrying the generation id, pid and process name. */

struct monitor;

/* What one generation did to the watched table. */
enum {
	MONITOR_TABLE_DELETED = 1u << 0,
	MONITOR_TABLE_CHANGED = 1u << 1,        /* table re-added or flags changed */
	MONITOR_CHAIN_CHANGED = 1u << 2,
	MONITOR_RULE_CHANGED = 1u << 3,
	MONITOR_SET_CHANGED = 1u << 4,
	MONITOR_ELEM_CHANGED = 1u << 5,
	MONITOR_OTHER_CHANGED = 1u << 6,        /* objects, flowtables */
};

struct monitor_change {
	uint32_t generation;
	uint32_t portid;                /* netlink port of the committing socket */
	uint32_t pid;                   /* global pid; 0 when the kernel did not say */
	char comm[64];                  /* raw bytes from the kernel: escape to print */
	unsigned what;                  /* MONITOR_* */
};

typedef void (*monitor_cb)(const struct monitor_change *change, void *userdata);

/* Opens a non-blocking netlink socket subscribed to nftables events, for the
 * table family/name (e.g. NFPROTO_INET, "port53guard"). */
int monitor_open(int family, const char *table, struct monitor **ret);
void monitor_close(struct monitor *m);

/* Drops the object notifications committed through netlink port portid
 * (nft_portid() of our own handle) in the kernel, before they take room
 * in the receive buffer: a commit of a 50,000-range table sends some
 * 100,000 element messages, which would overflow it. NEWGEN is still
 * delivered, so monitor_cb sees no change for those generations. 0 or a
 * negative errno (the socket then keeps receiving everything). */
int monitor_ignore_portid(struct monitor *m, uint32_t portid);
int monitor_fd(const struct monitor *m);

/* Reads every pending notification and calls cb once per generation that
 * touched the table. Returns 0, or -ENOBUFS when the socket overflowed and
 * events were lost (the caller must resync from the kernel), or another
 * negative errno. */
int monitor_process(struct monitor *m, monitor_cb cb, void *userdata);

/* Text for MONITOR_* bits, e.g. "table deleted", "rules changed". */
void monitor_describe(unsigned what, char *buf, size_t len);
