/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "report.h"

#include <errno.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "daemon.h"
#include "fileio.h"
#include "listeners.h"
#include "routes.h"
#include "traffic.h"
#include "verdict.h"

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A wall-clock time as RFC 3339 UTC text, null for "never" (0). */
static json_t *json_time(time_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	iso_time(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *json_time_unix(time_t t)
{
	return t ? json_integer((json_int_t)t) : json_null();
}

/* A string from the configuration or another process: escaped like the log
 * (jansson refuses invalid UTF-8), null for NULL and, when empty_null, "". */
static json_t *json_esc(const char *s, bool empty_null)
{
	json_t *j;
	char *e;

	if (!s || (empty_null && !s[0]))
		return json_null();
	e = log_escape(s, strlen(s), NULL);
	if (!e)
		return NULL;
	j = json_string(e);
	free(e);
	return j;
}

json_t *report_json_text(const char *s)
{
	return json_esc(s, true);
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
	json_t *protos = json_array();

	json_array_append_new(protos, json_string("udp"));
	if (d->config->protocols & CONFIG_PROTO_TCP)
		json_array_append_new(protos, json_string("tcp"));
	return json_pack("{s:s, s:b, s:b, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:{s:b, s:o}}",
			 "state", d->enforcing ? "enforcing" : "not_enforcing",
			 "enforcing", d->enforcing,
			 "should_enforce", report_should_enforce(d),
			 "reason", d->enforce_reason,
			 "trigger", json_esc(d->enforce_trigger, true),
			 "table", "inet " DAEMON_TABLE,
			 "rules_verified_at", json_time(d->verified_at),
			 "rules_verified_at_unix", json_time_unix(d->verified_at),
			 "enforcing_since", json_time(d->enforcing_since),
			 "enforcing_since_unix", json_time_unix(d->enforcing_since),
			 "drift_repairs", (json_int_t)d->drift_repairs,
			 "protocols", protos,
			 "fallback", "active", d->config_fallback,
			 "reason", json_esc(d->fallback_reason, true));
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

	for (size_t i = 0; a && i < c->n_files; i++)
		json_array_append_new(a, json_esc(c->files[i], false));
	return a;
}

static json_t *config_json(const struct daemon *d)
{
	return json_pack("{s:o, s:b, s:o, s:o}", "files", files_json(d->config),
			 "last_reload_success", d->config_reload_ok,
			 "last_reload_at", json_time(d->config_reload_at),
			 "last_reload_at_unix", json_time_unix(d->config_reload_at));
}

/* ---- the verdict ---- */

static unsigned count_tcp53_public(const struct daemon *d)
{
	unsigned n = 0;

	for (size_t i = 0; d->listeners && i < d->listeners->n; i++) {
		const struct listener *l = &d->listeners->items[i];

		n += (!l->netns || l->netns->self) && l->exposure == LISTENER_PUBLIC && l->proto == IPPROTO_TCP;
	}
	return n;
}

void report_verdict_inputs(const struct daemon *d, char *const *uplinks, size_t n_uplinks,
			   struct verdict_inputs *ret)
{
	const struct config *c = d->config;

	*ret = (struct verdict_inputs){
		.now = time(NULL),
		.agent_known = true,
		.agent_running = true,
		.mode = c->mode,
		.should_enforce = report_should_enforce(d),
		.enforcing = d->enforcing,
		.verified_at = d->verified_at,
		.config_fallback = d->config_fallback,
		.fallback_reason = d->fallback_reason,
		.protocols = c->protocols,
		.allow = c->allow,
		.n_allow = c->n_allow,
		.exempt = c->exempt_interfaces,
		.n_exempt = c->n_exempt_interfaces,
		.uplinks = uplinks,
		.n_uplinks = n_uplinks,
		.tcp53_public = count_tcp53_public(d),
		.listeners_unfiltered = d->listeners_unfiltered,
		.policy_public_dns = d->policy_public_dns,
		.recursion_offered_last = d->recursion_offered_last,
		.recursion_window_s = c->summary_interval,
		.capture_degraded = d->capture_degraded,
		.capture_missing = d->capture_missing,
		.listeners_scanned_at = d->listeners_scanned_at,
		/* Two rescans missed, and the scan's own time limit. */
		.listeners_max_age_s = 2 * c->rescan_interval + LISTENERS_SCAN_GRACE_S,
	};
}

/* Worse: a higher state, or the same state with a finding more. */
static bool verdict_worse(const struct verdict *old, const struct verdict *new)
{
	if (new->state != old->state)
		return new->state > old->state;
	for (int c = 0; c < _VERDICT_CODE_MAX; c++)
		if (new->findings[c].active && !old->findings[c].active)
			return true;
	return false;
}

static bool verdict_same(const struct verdict *a, const struct verdict *b)
{
	if (a->state != b->state)
		return false;
	for (int c = 0; c < _VERDICT_CODE_MAX; c++)
		if (a->findings[c].active != b->findings[c].active)
			return false;
	return true;
}

const struct verdict *report_verdict(struct daemon *d)
{
	struct verdict_inputs in;
	struct verdict v;
	char **uplinks = NULL, codes[512], prev_codes[512] = "";
	size_t n_uplinks = 0;

	/* Without the routes no uplink is known: exempt_uplink cannot be
	 * shown, every other finding still is. */
	if (routes_default_ifaces(&uplinks, &n_uplinks) < 0) {
		uplinks = NULL;
		n_uplinks = 0;
	}
	report_verdict_inputs(d, uplinks, n_uplinks, &in);
	verdict_compute(&in, d->verdict_valid ? &d->verdict : NULL, &v);
	routes_free(uplinks);
	if (!d->verdict_valid || !verdict_same(&d->verdict, &v)) {
		bool worse = d->verdict_valid ? verdict_worse(&d->verdict, &v) : v.state != VERDICT_COMPLIANT;

		if (d->verdict_valid)
			verdict_codes_text(&d->verdict, prev_codes, sizeof(prev_codes));
		log_event(worse ? LOG_LEVEL_WARNING : LOG_LEVEL_NOTICE, "compliance_changed",
			  LOG_STR("state", verdict_state_name(v.state)),
			  LOG_STR("previous", d->verdict_valid ? verdict_state_name(d->verdict.state) : "unknown"),
			  LOG_STR("codes", verdict_codes_text(&v, codes, sizeof(codes))),
			  LOG_STR("previous_codes", prev_codes));
	}
	d->verdict = v;
	d->verdict_valid = true;
	return &d->verdict;
}

/* ---- listeners, in the one JSON shape status and scan share ---- */

static json_t *json_netns(const struct listener_netns *ns, bool self)
{
	if (!ns)
		return json_pack("{s:o, s:o, s:b}", "inode", json_null(), "name", json_null(), "own", self);
	return json_pack("{s:I, s:o, s:b}", "inode", (json_int_t)ns->inode, "name", json_esc(ns->name, false),
			 "own", ns->self);
}

static const char *owner_status_text(enum procmap_status st)
{
	switch (st) {
	case PROCMAP_FOUND:
		return "found";
	case PROCMAP_DENIED:
		return "permission";
	case PROCMAP_UNKNOWN:
		break;
	}
	return "unknown";
}

static json_t *json_owner(const struct procmap_owner *o)
{
	json_t *pid = o->status == PROCMAP_FOUND ? json_integer(o->pid) : json_null();

	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "status", owner_status_text(o->status), "pid", pid,
			 "comm", json_esc(o->comm, false), "exe", json_esc(o->exe, false),
			 "unit", json_esc(o->unit, false), "user_unit", json_esc(o->user_unit, false),
			 "container", json_esc(o->container, false),
			 "container_name", json_esc(o->container_name, false));
}

json_t *report_listener_json(const struct listener *l)
{
	char a[INET6_ADDRSTRLEN];

	listener_addr_to_string(l, a, sizeof(a));
	return json_pack("{s:s, s:s, s:s, s:i, s:o, s:b, s:o, s:I, s:s, s:o, s:b, s:o, s:I, s:I, s:o, s:o}",
			 "proto", listener_proto_to_string(l->proto),
			 "family", l->family == AF_INET ? "ipv4" : "ipv6",
			 "address", a, "port", (int)l->port,
			 "v6only", l->v6only < 0 ? json_null() : json_boolean(l->v6only),
			 "ipv4_too", listener_dual_stack(l),
			 "device", l->ifname[0] ? json_esc(l->ifname, false) : json_null(),
			 "ifindex", (json_int_t)l->ifindex,
			 "exposure", listener_exposure_to_string(l->exposure),
			 "via", json_esc(l->via, true),
			 "unfiltered", l->unfiltered,
			 "netns", json_netns(l->netns, true),
			 "inode", (json_int_t)l->inode, "uid", (json_int_t)l->uid,
			 "cgroup_id", l->has_cgroup_id ? json_integer((json_int_t)l->cgroup_id) : json_null(),
			 "owner", json_owner(&l->owner));
}

json_t *report_status_json(const struct daemon *d)
{
	time_t now = time(NULL);
	json_t *root;

	root = json_pack("{s:i, s:s, s:i, s:o, s:I, s:o, s:I, s:I, s:i, s:s}",
			 "schema_version", REPORT_SCHEMA_VERSION,
			 "version", PORT53GUARD_VERSION,
			 "pid", (int)getpid(),
			 "updated_at", json_time(now),
			 "updated_at_unix", (json_int_t)now,
			 "started_at", json_time(d->start_wall),
			 "started_at_unix", (json_int_t)d->start_wall,
			 "uptime_seconds", (json_int_t)((d->now_ms - d->start_mono_ms) / 1000u),
			 "status_interval_seconds", REPORT_STATUS_INTERVAL_S,
			 "mode", agent_mode_to_string(d->config->mode));
	if (!root)
		return NULL;
	json_object_set_new(root, "verdict", d->verdict_valid ? verdict_to_json(&d->verdict) : json_null());
	json_object_set_new(root, "enforcement", enforcement_json(d));
	json_object_set_new(root, "drops", drops_json(d));
	json_object_set_new(root, "config", config_json(d));
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
	report_verdict(d);
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
	const struct verdict *v;
	char codes[512];

	observe_summary(d);
	v = report_verdict(d);
	log_info("summary", LOG_STR("compliance", verdict_state_name(v->state)),
		 LOG_STR("findings", verdict_codes_text(v, codes, sizeof(codes))),
		 LOG_STR("mode", agent_mode_to_string(d->config->mode)),
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

/* A label value as the exposition format wants it: escaped like the log
 * first (another process's bytes become printable UTF-8), then backslash,
 * double quote and newline escaped for the format itself. */
static void label_value(FILE *f, const char *raw)
{
	char *e = raw ? log_escape(raw, strlen(raw), NULL) : NULL;

	for (const char *p = e ? e : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f), fputc(*p, f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	free(e);
}

static void write_listener_info(const struct daemon *d, FILE *f)
{
	metric_head(f, "listener_info", "gauge", "One series per socket listening on port 53.");
	for (size_t i = 0; d->listeners && i < d->listeners->n; i++) {
		const struct listener *l = &d->listeners->items[i];
		const struct procmap_owner *o = &l->owner;
		char a[INET6_ADDRSTRLEN];

		listener_addr_to_string(l, a, sizeof(a));
		fprintf(f, "port53guard_listener_info{proto=\"%s\",address=\"", listener_proto_to_string(l->proto));
		label_value(f, a);
		fprintf(f, "\",exposure=\"%s\",unit=\"",
			l->netns && !l->netns->self ? "namespace" : listener_exposure_to_string(l->exposure));
		label_value(f, o->user_unit ? o->user_unit : o->unit);
		fputs("\",container=\"", f);
		label_value(f, o->container_name ? o->container_name : o->container);
		fputs("\",comm=\"", f);
		label_value(f, o->comm);
		fputs("\"} 1\n", f);
	}
}

static void write_verdict(const struct daemon *d, FILE *f)
{
	const struct verdict *v = &d->verdict;

	metric_head(f, "compliant", "gauge", "1 when the compliance verdict is compliant.");
	fprintf(f, "port53guard_compliant %d\n", d->verdict_valid && v->state == VERDICT_COMPLIANT);
	metric_head(f, "finding", "gauge", "1 for each active compliance finding, 0 for every other known code.");
	for (int c = 0; c < _VERDICT_CODE_MAX; c++)
		fprintf(f, "port53guard_finding{code=\"%s\",severity=\"%s\"} %d\n", verdict_code_name((enum verdict_code)c),
			verdict_state_name(verdict_code_severity((enum verdict_code)c)), v->findings[c].active);
}

static void write_metrics_text(const struct daemon *d, FILE *f)
{
	static const char *const protos[] = { "udp", "tcp" };

	write_verdict(d, f);
	metric_head(f, "dropped_packets_total", "counter", "Inbound port-53 packets refused by the rules.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "port53guard_dropped_packets_total{proto=\"%s\"} %" PRIu64 "\n", protos[i], d->drop_packets[i]);
	metric_head(f, "dropped_bytes_total", "counter", "Bytes of inbound port-53 packets refused by the rules.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "port53guard_dropped_bytes_total{proto=\"%s\"} %" PRIu64 "\n", protos[i], d->drop_bytes[i]);
	/* Disjoint: every query the capture saw is exactly one of these, so
	 * the series sum to queries_seen_total. */
	metric_head(f, "queries_total", "counter", "Inbound DNS queries seen by the capture, by source: allowlisted or not.");
	fprintf(f, "port53guard_queries_total{result=\"allowlisted\"} %" PRIu64 "\n", d->queries_allowed);
	fprintf(f, "port53guard_queries_total{result=\"not_allowlisted\"} %" PRIu64 "\n",
		d->queries_seen >= d->queries_allowed ? d->queries_seen - d->queries_allowed : 0);
	metric_head(f, "queries_seen_total", "counter", "Inbound DNS queries seen by the capture.");
	fprintf(f, "port53guard_queries_seen_total %" PRIu64 "\n", d->queries_seen);
	/* The outcome is known only once a response came or the wait ran
	 * out: a separate family, never summed with the one above. */
	metric_head(f, "query_outcomes_total", "counter", "Inbound DNS queries by outcome, once known.");
	fprintf(f, "port53guard_query_outcomes_total{outcome=\"answered\"} %" PRIu64 "\n", d->queries_answered);
	fprintf(f, "port53guard_query_outcomes_total{outcome=\"unanswered\"} %" PRIu64 "\n", d->queries_unanswered);
	metric_head(f, "listeners", "gauge", "Sockets listening on port 53, by exposure.");
	fprintf(f, "port53guard_listeners{exposure=\"public\"} %u\n", d->listeners_public);
	fprintf(f, "port53guard_listeners{exposure=\"bridge\"} %u\n", d->listeners_bridge);
	fprintf(f, "port53guard_listeners{exposure=\"local\"} %u\n", d->listeners_local);
	fprintf(f, "port53guard_listeners{exposure=\"namespace\"} %u\n", d->listeners_namespaced);
	write_listener_info(d, f);
	metric_head(f, "capture_dropped_packets_total", "counter", "Packets the kernel dropped before the capture read them.");
	fprintf(f, "port53guard_capture_dropped_packets_total %" PRIu64 "\n", d->capture_drops);
	metric_head(f, "capture_degraded", "gauge", "1 when packet capture is not running on every configured interface.");
	fprintf(f, "port53guard_capture_degraded %d\n", d->capture_degraded || d->capture_missing[0]);
	/* 1: the top lists count every query; N: they count 1 in N now. */
	metric_head(f, "capture_sample_rate", "gauge",
		    "1 when the top lists count every query; N when a flood made them sample 1 query in N.");
	fprintf(f, "port53guard_capture_sample_rate %u\n", d->traffic ? traffic_sample_rate(d->traffic) : 1);
	metric_head(f, "drift_repairs_total", "counter", "Times the rules were restored after someone else changed them.");
	fprintf(f, "port53guard_drift_repairs_total %" PRIu64 "\n", d->drift_repairs);
	metric_head(f, "rules_enforced", "gauge", "1 when the refuse rules are in the kernel.");
	fprintf(f, "port53guard_rules_enforced %d\n", d->enforcing ? 1 : 0);
	metric_head(f, "rules_should_enforce", "gauge", "1 when the mode says the rules should be in the kernel.");
	fprintf(f, "port53guard_rules_should_enforce %d\n", report_should_enforce(d) ? 1 : 0);
	metric_head(f, "enforcing_since_timestamp_seconds", "gauge", "When the refuse rules last went in; 0 while not enforcing.");
	fprintf(f, "port53guard_enforcing_since_timestamp_seconds %lld\n", (long long)d->enforcing_since);
	metric_head(f, "config_last_reload_success", "gauge", "1 when the last configuration reload (or the start) succeeded.");
	fprintf(f, "port53guard_config_last_reload_success %d\n", d->config_reload_ok ? 1 : 0);
	metric_head(f, "config_last_reload_timestamp_seconds", "gauge", "When the configuration was last loaded or a reload tried.");
	fprintf(f, "port53guard_config_last_reload_timestamp_seconds %lld\n", (long long)d->config_reload_at);
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
