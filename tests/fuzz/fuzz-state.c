/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state files are read at every start from a directory an earlier run
 * (or someone else) wrote: any bytes must be refused with a reason or
 * parsed into inputs whose hashes hold, and what parses must write back
 * into the same state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lkg_roundtrip(const struct state_lkg *l)
{
	struct state_lkg *back = NULL;
	char *text = NULL, err[256] = "";
	size_t len = 0;

	if (state_lkg_format(l, &text, &len) < 0)
		return;
	if (state_lkg_parse(text, len, &back, err, sizeof(err)) < 0) {
		fprintf(stderr, "written state does not parse back: %s\n", err);
		abort();
	}
	if (back->config.n != l->config.n || back->saved_at != l->saved_at ||
	    strcmp(back->config_sha256, l->config_sha256) != 0 || strcmp(back->policy_sha256, l->policy_sha256) != 0)
		abort();
	for (size_t i = 0; i < l->config.n; i++)
		if (back->config.v[i].len != l->config.v[i].len ||
		    memcmp(back->config.v[i].text, l->config.v[i].text, l->config.v[i].len) != 0 ||
		    strcmp(back->config.v[i].name, l->config.v[i].name) != 0)
			abort();
	state_lkg_free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_lkg *l = NULL;
	struct state_auto a, b;
	char err[256] = "", *text = NULL;
	size_t len = 0;

	if (state_lkg_parse((const char *)data, size, &l, err, sizeof(err)) == 0) {
		lkg_roundtrip(l);
		state_lkg_free(l);
	} else if (!err[0]) {
		abort();
	}
	err[0] = '\0';
	if (state_auto_parse((const char *)data, size, &a, err, sizeof(err)) == 0) {
		if (state_auto_format(&a, &text, &len) < 0 || state_auto_parse(text, len, &b, err, sizeof(err)) < 0)
			abort();
		if (strcmp(a.reason, b.reason) || strcmp(a.source, b.source) || a.triggered_at != b.triggered_at ||
		    a.netns_cookie != b.netns_cookie)
			abort();
		free(text);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}
