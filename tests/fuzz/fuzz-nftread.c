/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the read-back of the table: the table, chain, set,
 * set-element and rule dump parsers of rules/nft.c, fed any bytes as a
 * stream of netlink messages (nft_parse_dump(), the same callbacks
 * nft_read() hands the kernel's dumps to). The kernel is trusted little
 * more than anyone: whatever it sends must be parsed within bounds, and
 *
 *   - an address set's elements give the same ranges whether they are
 *     followed in dump order (the fast way) or all kept and sorted (the
 *     general way), whenever the fast way takes them;
 *   - those ranges are normalised: each start <= its end, sorted, never
 *     overlapping nor touching; an ifname set's names are sorted;
 *   - comparing the result with a table built from the built-in
 *     configuration answers 0 or 1 with a terminated difference text, and
 *     finds no difference in a table that has no table flags, chains,
 *     rules or sets to match.
 *
 * Seeds: tests/fuzz/corpus/nftread, dumps of real tables captured from the
 * kernel (see its README).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "nft-internal.h"
#include "nft.h"
#include "rulesconf.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ruleset *builtin(void)
{
	static struct ruleset *rs;
	struct config *c;
	char err[256];

	if (rs)
		return rs;
	c = config_new();
	if (!c || rulesconf_build(c, &rs, err, sizeof(err)) < 0)
		abort();
	config_free(c);
	return rs;
}

static void check_set(const struct nft_live_set *ls)
{
	size_t len = ls->key_len == 4 ? 4 : 16;

	for (size_t i = 0; i < ls->n_ranges; i++) {
		const struct ruleset_range *r = &ls->ranges[i];
		uint8_t succ[16];
		size_t k = len;

		if (memcmp(r->start, r->end, len) > 0)
			abort();
		if (i == 0)
			continue;
		/* The previous end + 1 (no wrap: a range ending at the top is
		 * the last one) must lie below this start. */
		memcpy(succ, ls->ranges[i - 1].end, len);
		while (k > 0 && ++succ[k - 1] == 0)
			k--;
		if (k == 0 || memcmp(succ, r->start, len) >= 0)
			abort();
	}
	for (size_t i = 1; i < ls->n_names; i++)
		if (strncmp(ls->names[i - 1], ls->names[i], sizeof(ls->names[i])) > 0)
			abort();
}

static void check_compare(int r, const char *diff, size_t len)
{
	if (r != 0 && r != 1 && r != -ENOMEM)
		abort();
	if (!memchr(diff, '\0', len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset *rs = builtin();
	struct nft_live *live = NULL;
	char diff[512];
	bool agree = true;
	int r = nft_parse_dump(data, size, &live, &agree);

	if (!agree)
		abort();
	if (r < 0) {
		if (live)
			abort();
		return 0;
	}
	for (size_t i = 0; i < live->n_sets; i++)
		check_set(&live->sets[i]);
	diff[0] = '\0';
	r = nft_compare(live, rs, diff, sizeof(diff));
	check_compare(r, diff, sizeof(diff));
	if (r == 0 && (live->n_chains == 0 || live->n_rules == 0))
		abort();        /* the built-in table has chains and rules */
	r = nft_compare_internal(live, rs, diff, sizeof(diff));
	check_compare(r, diff, sizeof(diff));
	r = nft_compare_flags(live, NFT_APPLY_OWNER | NFT_APPLY_PERSIST, diff, sizeof(diff));
	check_compare(r, diff, sizeof(diff));
	(void)nft_live_flags(live);
	(void)nft_live_find_rule(live, RULESET_COMMENT_REFUSE_UDP);
	nft_live_free(live);
	return 0;
}
