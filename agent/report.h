/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "verdict.h"

struct daemon;
struct listener;

/* The status file is rewritten this often; `status` treats a file older than
 * REPORT_STALE_FACTOR intervals (or whose pid is gone) as "not running". */
#define REPORT_STATUS_INTERVAL_S 5
#define REPORT_STALE_FACTOR 4
/* The status file's and scan --json's layout: raised when a field changes
 * meaning or goes away (adding one does not). */
#define REPORT_SCHEMA_VERSION 2

bool report_should_enforce(const struct daemon *d);
json_t *report_status_json(const struct daemon *d);
void report_write_metrics(struct daemon *d);

/* The verdict inputs from the agent's state; uplinks are the interfaces
 * that carry a default route (the caller owns them). */
void report_verdict_inputs(const struct daemon *d, char *const *uplinks, size_t n_uplinks,
			   struct verdict_inputs *ret);
/* Recomputes d->verdict from the live state (reads the default routes)
 * and logs compliance_changed when the state or the set of codes changed. */
const struct verdict *report_verdict(struct daemon *d);

/* One listener in the JSON shape status and scan share: nested netns and
 * owner objects, null for unknown. */
json_t *report_listener_json(const struct listener *l);

/* Text from the configuration, the kernel or another process as a JSON
 * string escaped like the log (valid UTF-8 whatever the bytes); null for
 * NULL or "". */
json_t *report_json_text(const char *s);

/* observe.c adds listeners, top sources and capture to the status object. */
void observe_status_json(const struct daemon *d, json_t *root);
