/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct daemon;

/* The status file is rewritten this often; `status` treats a file older than
 * REPORT_STALE_FACTOR intervals (or whose pid is gone) as "not running". */
#define REPORT_STATUS_INTERVAL_S 5
#define REPORT_STALE_FACTOR 4

bool report_should_enforce(const struct daemon *d);
json_t *report_status_json(const struct daemon *d);
void report_write_metrics(struct daemon *d);

/* observe.c adds listeners, top sources and capture to the status object. */
void observe_status_json(const struct daemon *d, json_t *root);
