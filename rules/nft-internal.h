/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * nft_read()'s parsing without a socket, for the fuzz target: not part of
 * the module's interface.
 */

#include <stdbool.h>
#include <stddef.h>

#include "nft.h"

/* Hands buf, read as a stream of netlink messages, to the callbacks
 * nft_read() uses on its dumps: NEWTABLE, NEWCHAIN and NEWSET messages to
 * the table, chain and set parsers, NEWSETELEM messages to the element
 * parsers of the set last seen (as one set's dump follows its set),
 * NEWRULE messages to the rule parser of chains "ingress" and "dns";
 * anything else is skipped. Address sets are turned into ranges both the
 * way of the kernel's dump order and the general way (every key kept, then
 * sorted); *paths_agree is false when the first applied and the two
 * differ. Returns 0 with *ret (free with nft_live_free()), or a negative
 * errno as the callbacks return it (-EPROTO, -ENOMEM). */
int nft_parse_dump(const void *buf, size_t len, struct nft_live **ret, bool *paths_agree);
