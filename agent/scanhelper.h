/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>

#include "listeners.h"

/*
 * The scan helper: the listener scan (sock_diag in every network namespace,
 * setns, the /proc walk for owners) runs in a separate process, so the agent,
 * which parses every inbound DNS packet, can give up CAP_SYS_ADMIN,
 * CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH. A bug in the packet path then
 * reaches nftables and the capture, not other processes' memory or other
 * namespaces.
 *
 * Two processes, both started from the agent before it drops its
 * privileges (afterwards it could not give them any):
 *
 *   port53guard-hlp  the supervisor: reads nothing, sends only a notice when
 *                    the scan process dies, and starts a new one with
 *                    back-off (250 ms doubling to 60 s; reset after a minute
 *                    of life). Killed with the agent (PR_SET_PDEATHSIG).
 *   port53guard-scn  the scan process: answers one request at a time on a
 *                    SOCK_SEQPACKET socketpair with the agent (probes/scanmsg.h)
 *                    and does nothing else; no network input. Killed with the
 *                    supervisor. Exits when a namespace walk cannot return
 *                    home, so it never scans from the wrong namespace.
 *
 * Both keep CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH whatever
 * the configuration, so a reload from namespaces = no to yes works. The
 * agent trusts nothing it receives: scanmsg decodes with bounds.
 */

struct scanhelper;

/* Forks the helper. Call before any socket the helper must not hold is
 * opened (it closes every descriptor but its own end and stdio) and before
 * the privileges are dropped. */
int scanhelper_start(struct scanhelper **ret);

/* One scan, waiting at most timeout_ms. Logs listener_scan_failed for each
 * death of the scan process announced since the last call. -ECHILD: the
 * scan process died during this scan; -ETIMEDOUT; -ENOTCONN: the helper is
 * gone for good (the agent cannot start a privileged one any more);
 * -EBADMSG and friends: a malformed answer; or the helper's own error. */
int scanhelper_scan(struct scanhelper *h, const struct listeners_opts *o, int timeout_ms,
		    struct listener_set **ret);

/* A readable reason for a scanhelper_scan() error. */
const char *scanhelper_strerror(int error);

/* Ends the helper (closes the socket; kills what is left after 3 s) and
 * reaps it; NULL is fine. */
void scanhelper_stop(struct scanhelper *h);

/* The supervisor's pid, 0 when it is gone. */
pid_t scanhelper_pid(const struct scanhelper *h);
