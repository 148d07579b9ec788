/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The interfaces that carry a default route (0.0.0.0/0 or ::/0, any
 * routing table but "local"), from one rtnetlink dump of the caller's
 * network namespace: the uplinks, where outside traffic comes in. A
 * multipath default route names each of its next hops. Needs no privilege.
 */

#include <stddef.h>

/* *ret: a NULL-terminated array of interface names (unique, in dump
 * order), *ret_n its length; free with routes_free(). Set only on
 * success; negative errno otherwise. */
int routes_default_ifaces(char ***ret, size_t *ret_n);
void routes_free(char **names);
