/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for what port53guard report reads from a journal: any
 * sequence of events, with any field values (a journal file from another
 * host may hold anything), goes through the timeline and is rendered as
 * JSON, text and HTML.
 *
 * Input: the first line is a WHEN for timeline_parse_when(); every further
 * line is one event, "SECONDS|BOOT|BOOT_START|EVENT|key=value|key=value...".
 * Checks: the timeline's invariants (gaps in order, inside the window, not
 * overlapping; enforced time plus gaps equal to the window), the JSON
 * parses back, and the text and HTML hold no control byte but newlines.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-render.h"
#include "timeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S 1000000LL
#define T0 (1800000000LL * S)
#define MAX_LINE 2048

static void check_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
}

static void render_all(const struct timeline *tl)
{
	struct report_meta m = { .hostname = "fuzz", .generated_us = T0, .source = "fuzz" };
	json_t *doc, *back;
	char *buf = NULL, *dump;
	size_t len = 0;
	FILE *f;

	doc = report_json(tl, &m);
	if (!doc)
		abort();
	dump = json_dumps(doc, JSON_COMPACT);
	if (!dump)
		abort();
	back = json_loads(dump, 0, NULL);
	if (!back)
		abort();
	json_decref(back);
	free(dump);
	json_decref(doc);
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	report_text(f, tl, &m);
	fclose(f);
	check_printable(buf, len);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	report_html(f, tl, &m);
	fclose(f);
	check_printable(buf, len);
	free(buf);
}

static void check_invariants(const struct timeline *tl)
{
	int64_t sum = tl->enforced_us, prev = tl->since_us;

	for (size_t i = 0; i < tl->n_gaps; i++) {
		const struct timeline_gap *g = &tl->gaps[i];

		if (g->start_us < prev || g->end_us <= g->start_us || g->end_us > tl->until_us)
			abort();
		prev = g->end_us;
		sum += g->end_us - g->start_us;
	}
	if (!tl->gaps_omitted && sum != tl->until_us - tl->since_us)
		abort();
}

static bool in_range(const char *s, double *ret)
{
	double d = strtod(s, NULL);

	if (!(d > -1e6 && d < 1e6))
		return false;
	*ret = d;
	return true;
}

static void one_event(struct timeline *tl, char *line, int64_t *last)
{
	struct timeline_event ev = { 0 };
	char *part[4 + _TL_F_MAX], *save = NULL, *p;
	double t, bs;
	int n = 0;

	for (p = strtok_r(line, "|", &save); p && n < 4 + _TL_F_MAX; p = strtok_r(NULL, "|", &save))
		part[n++] = p;
	if (n < 4 || !in_range(part[0], &t) || !in_range(part[2], &bs))
		return;
	ev.t_us = T0 + (int64_t)(t * S);
	ev.boot_id = part[1];
	ev.boot_start_us = T0 + (int64_t)(bs * S);
	ev.event = part[3];
	for (int i = 4; i < n; i++) {
		char *eq = strchr(part[i], '=');
		int f = eq ? timeline_field_from_key(part[i], (size_t)(eq - part[i])) : -1;

		if (f >= 0)
			ev.f[f] = eq + 1;
	}
	/* events come in time order from the journal; keep the fuzzer's too */
	if (ev.t_us < *last)
		return;
	*last = ev.t_us;
	timeline_add(tl, &ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeline tl;
	char line[MAX_LINE];
	int64_t when, last = INT64_MIN;
	size_t i = 0, k;
	bool first = true;

	timeline_init(&tl, T0, T0 + 3600 * S);
	while (i < size) {
		for (k = 0; i < size && data[i] != '\n' && k < sizeof(line) - 1; i++)
			line[k++] = (char)data[i];
		line[k] = '\0';
		i++;
		if (first) {
			first = false;
			timeline_parse_when(line, T0, T0 - S, &when);
			continue;
		}
		one_event(&tl, line, &last);
	}
	timeline_finish(&tl);
	check_invariants(&tl);
	render_all(&tl);
	timeline_free(&tl);
	return 0;
}
