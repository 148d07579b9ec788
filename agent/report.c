/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "daemon.h"
#include "fileio.h"

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0) {
		snprintf(buf, len, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool report_should_enforce(const struct daemon *d)
{
	switch (d->config->mode) {
	case AGENT_MODE_ENFORCE:
		return true;
	case AGENT_MODE_AUTO:
		return d->enforce_trigger[0] != '\0';
	case AGENT_MODE_MONITOR:
	default:
		return false;
	}
}

static json_t *enforcement_json(const struct daemon *d)
{
	char verified[32];

	iso_time(d->verified_at, verified, sizeof(verified));
	return json_pack("{s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:I, s:b, s:s}",
			 "state", d->enforcing ? "enforcing" : "not_enforcing",
			 "enforcing", d->enforcing,
			 "should_enforce", report_should_enforce(d),
			 "reason", d->enforce_reason,
			 "trigger", d->enforce_trigger,
			 "table", "inet " DAEMON_TABLE,
			 "rules_verified_at", verified,
			 "drift_repairs", (json_int_t)d->drift_repairs,
			 "config_fallback", d->config_fallback,
			 "fallback_reason", d->fallback_reason);
}

static json_t *drops_json(const struct daemon *d)
{
	return json_pack("{s:{s:I, s:I}, s:{s:I, s:I}}",
			 "udp", "packets", (json_int_t)d->drop_packets[0], "bytes", (json_int_t)d->drop_bytes[0],
			 "tcp", "packets", (json_int_t)d->drop_packets[1], "bytes", (json_int_t)d->drop_bytes[1]);
}

static json_t *files_json(const struct config *c)
{
	json_t *a = json_array();

	/* File names are the operator's, but a name is still bytes: jansson
	 * refuses invalid UTF-8, so escape like the log does. */
	for (size_t i = 0; a && i < c->n_files; i++) {
		char *e = log_escape(c->files[i], strlen(c->files[i]), NULL);

		json_array_append_new(a, json_string(e ? e : "?"));
		free(e);
	}
	return a;
}

json_t *report_status_json(const struct daemon *d)
{
	time_t now = time(NULL);
	char updated[32], started[32];
	json_t *root;

	iso_time(now, updated, sizeof(updated));
	iso_time(d->start_wall, started, sizeof(started));
	root = json_pack("{s:s, s:i, s:s, s:I, s:s, s:I, s:i, s:s}",
			 "version", PORT53GUARD_VERSION,
			 "pid", (int)getpid(),
			 "updated_at", updated,
			 "updated_at_unix", (json_int_t)now,
			 "started_at", started,
			 "uptime_seconds", (json_int_t)((d->now_ms - d->start_mono_ms) / 1000u),
			 "status_interval_seconds", REPORT_STATUS_INTERVAL_S,
			 "mode", agent_mode_to_string(d->config->mode));
	if (!root)
		return NULL;
	json_object_set_new(root, "enforcement", enforcement_json(d));
	json_object_set_new(root, "drops", drops_json(d));
	json_object_set_new(root, "config_files", files_json(d->config));
	observe_status_json(d, root);
	return root;
}

static void warn_once(bool *failing, const char *what, const char *path, int r)
{
	if (r < 0 && !*failing)
		log_warning("output_write_failed", LOG_STR("file", what), LOG_STR("path", path),
			    LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "enforcement goes on; this file is not updated"));
	else if (r == 0 && *failing)
		log_info("output_write_recovered", LOG_STR("file", what), LOG_STR("path", path));
	*failing = r < 0;
}

static void write_status(struct daemon *d)
{
	json_t *root = report_status_json(d);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int r = text ? 0 : -ENOMEM;

	if (text) {
		size_t len = strlen(text);

		text[len] = '\n';       /* json_dumps leaves room: replace the NUL */
		r = fileio_write_atomic(d->config->status_file, text, len + 1, 0644);
	}
	warn_once(&d->status_write_failing, "status", d->config->status_file, r);
	free(text);
	json_decref(root);
}

void report_write_now(struct daemon *d)
{
	observe_update_counters(d);
	write_status(d);
	if (d->config->metrics_file)
		report_write_metrics(d);
	d->next_status_ms = d->now_ms + REPORT_STATUS_INTERVAL_S * 1000u;
}

void report_tick(struct daemon *d)
{
	if (d->now_ms >= d->next_status_ms)
		report_write_now(d);
	if (d->next_summary_ms == 0)
		d->next_summary_ms = d->now_ms + d->config->summary_interval * 1000ull;
	if (d->now_ms >= d->next_summary_ms) {
		report_summary(d);
		d->next_summary_ms = d->now_ms + d->config->summary_interval * 1000ull;
	}
}

void report_summary(struct daemon *d)
{
	observe_summary(d);
	log_info("summary", LOG_STR("mode", agent_mode_to_string(d->config->mode)),
		 LOG_BOOL("enforcing", d->enforcing), LOG_STR("reason", d->enforce_reason),
		 LOG_UINT("dropped_udp", d->drop_packets[0]), LOG_UINT("dropped_tcp", d->drop_packets[1]),
		 LOG_UINT("queries", d->queries_seen), LOG_UINT("answered", d->queries_answered),
		 LOG_UINT("listeners_public", d->listeners_public),
		 LOG_UINT("listeners_local", d->listeners_local),
		 LOG_UINT("capture_drops", d->capture_drops),
		 LOG_STR("capture", d->capture_degraded ? "degraded" : "ok"),
		 LOG_UINT("drift_repairs", d->drift_repairs),
		 LOG_UINT("uptime_s", (d->now_ms - d->start_mono_ms) / 1000u));
}

/* ---- Prometheus textfile (node_exporter's textfile collector format) ---- */


static void metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP port53guard_%s %s\n# TYPE port53guard_%s %s\n", name, help, name, type);
}

static void write_metrics_text(const struct daemon *d, FILE *f)
{
	static const char *const protos[] = { "udp", "tcp" };

	metric_head(f, "dropped_packets_total", "counter", "Inbound port-53 packets refused by the rules.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "port53guard_dropped_packets_total{proto=\"%s\"} %" PRIu64 "\n", protos[i], d->drop_packets[i]);
	metric_head(f, "dropped_bytes_total", "counter", "Bytes of inbound port-53 packets refused by the rules.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "port53guard_dropped_bytes_total{proto=\"%s\"} %" PRIu64 "\n", protos[i], d->drop_bytes[i]);
	metric_head(f, "queries_total", "counter", "Inbound DNS queries seen by the capture, by result.");
	fprintf(f, "port53guard_queries_total{result=\"answered\"} %" PRIu64 "\n", d->queries_answered);
	fprintf(f, "port53guard_queries_total{result=\"unanswered\"} %" PRIu64 "\n", d->queries_unanswered);
	fprintf(f, "port53guard_queries_total{result=\"allowlisted\"} %" PRIu64 "\n", d->queries_allowed);
	metric_head(f, "queries_seen_total", "counter", "Inbound DNS queries seen by the capture.");
	fprintf(f, "port53guard_queries_seen_total %" PRIu64 "\n", d->queries_seen);
	metric_head(f, "listeners", "gauge", "Sockets listening on port 53, by exposure.");
	fprintf(f, "port53guard_listeners{exposure=\"public\"} %u\n", d->listeners_public);
	fprintf(f, "port53guard_listeners{exposure=\"bridge\"} %u\n", d->listeners_bridge);
	fprintf(f, "port53guard_listeners{exposure=\"local\"} %u\n", d->listeners_local);
	fprintf(f, "port53guard_listeners{exposure=\"namespace\"} %u\n", d->listeners_namespaced);
	metric_head(f, "capture_dropped_packets_total", "counter", "Packets the kernel dropped before the capture read them.");
	fprintf(f, "port53guard_capture_dropped_packets_total %" PRIu64 "\n", d->capture_drops);
	metric_head(f, "capture_degraded", "gauge", "1 when packet capture is not running.");
	fprintf(f, "port53guard_capture_degraded %d\n", d->capture_degraded ? 1 : 0);
	metric_head(f, "drift_repairs_total", "counter", "Times the rules were restored after someone else changed them.");
	fprintf(f, "port53guard_drift_repairs_total %" PRIu64 "\n", d->drift_repairs);
	metric_head(f, "rules_enforced", "gauge", "1 when the refuse rules are in the kernel.");
	fprintf(f, "port53guard_rules_enforced %d\n", d->enforcing ? 1 : 0);
	metric_head(f, "rules_should_enforce", "gauge", "1 when the mode says the rules should be in the kernel.");
	fprintf(f, "port53guard_rules_should_enforce %d\n", report_should_enforce(d) ? 1 : 0);
	metric_head(f, "last_update_timestamp_seconds", "gauge", "When the agent last wrote this file.");
	fprintf(f, "port53guard_last_update_timestamp_seconds %lld\n", (long long)time(NULL));
	metric_head(f, "build_info", "gauge", "Version of the running agent.");
	fprintf(f, "port53guard_build_info{version=\"%s\",mode=\"%s\"} 1\n", PORT53GUARD_VERSION,
		agent_mode_to_string(d->config->mode));
}

void report_write_metrics(struct daemon *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r = -ENOMEM;

	if (f) {
		write_metrics_text(d, f);
		r = fclose(f) == 0 ? 0 : -ENOMEM;
	}
	if (r == 0)
		r = fileio_write_atomic(d->config->metrics_file, text, len, 0644);
	warn_once(&d->metrics_write_failing, "metrics", d->config->metrics_file, r);
	free(text);
}
