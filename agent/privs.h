/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/*
 * Privilege separation. Two processes share the work, and each keeps only
 * what its part needs once its sockets are open:
 *
 *   the agent (reads every inbound DNS packet, talks to nftables):
 *     CAP_NET_ADMIN (rules, drift watch), CAP_NET_RAW (re-opening the capture
 *     on reload);
 *   the scan helper (agent/scanhelper.c: never sees the network, only the
 *   agent's requests): CAP_SYS_ADMIN (setns into other network namespaces),
 *     CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (other processes' /proc/PID/fd
 *     and /proc/PID/ns/net).
 *
 * Each set is applied to the effective, permitted and bounding sets; the
 * bounding set only where CAP_SETPCAP allows it (a root start by hand; under
 * systemd the unit's CapabilityBoundingSet= bounds both and NoNewPrivileges=
 * with a non-root user means nothing outside the permitted set can ever be
 * regained). Inheritable and ambient sets are emptied.
 */

/* In the agent, once its sockets are open and the helper is started. Logs
 * what it did (privileges_dropped); failure is logged and not fatal. */
void privs_drop_unneeded(void);

/* In the helper, first thing. Negative errno when it could not; no log. */
int privs_limit_helper(void);

/* Whether the agent can install its table at all (CAP_NET_ADMIN in its
 * effective set); checked once, before anything else is opened. */
bool privs_have_net_admin(void);
