/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The outputs of `port53guard report`: one finished timeline rendered as
 * the versioned JSON document, one terminal screen of text, or one
 * self-contained HTML file. */

#include <stdio.h>

#include <jansson.h>

#include "journalread.h"
#include "timeline.h"

#define REPORT_SCHEMA_VERSION 1

struct report_meta {
	const char *hostname;           /* from the journal; may be empty */
	int64_t generated_us;
	struct journalread_seal seal;
	const char *source;             /* "system journal", a directory or a file */
};

/* NULL when out of memory. */
json_t *report_json(const struct timeline *tl, const struct report_meta *m);
int report_text(FILE *f, const struct timeline *tl, const struct report_meta *m);
int report_html(FILE *f, const struct timeline *tl, const struct report_meta *m);

/* "yes", "no" or "partly" for the files the report read. */
const char *report_sealed_text(const struct journalread_seal *s);
