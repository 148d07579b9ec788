/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Drops every capability the running agent does not need once its sockets
 * are open, keeping CAP_NET_ADMIN (rules), CAP_NET_RAW (re-opening capture on
 * reload), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (reading other processes'
 * /proc/PID/fd) and, when namespaces are walked, CAP_SYS_ADMIN (setns).
 * Logs what it did; failure is logged and not fatal. */
void privs_drop_unneeded(bool keep_sys_admin);

/* Whether the agent can install its table at all (CAP_NET_ADMIN in its
 * effective set); checked once, before anything else is opened. */
bool privs_have_net_admin(void);
