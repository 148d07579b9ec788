/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

static const char *const code_names[_VERDICT_CODE_MAX] = {
	[VERDICT_RULES_MISSING] = "rules_missing",
	[VERDICT_RULES_UNVERIFIED] = "rules_unverified",
	[VERDICT_MODE_MONITOR] = "mode_monitor",
	[VERDICT_CONFIG_FALLBACK] = "config_fallback",
	[VERDICT_ALLOW_EVERYTHING] = "allow_everything",
	[VERDICT_ALLOW_BROAD] = "allow_broad",
	[VERDICT_EXEMPT_UPLINK] = "exempt_uplink",
	[VERDICT_TCP53_PUBLIC] = "tcp53_public",
	[VERDICT_LISTENER_UNFILTERED] = "listener_unfiltered",
	[VERDICT_POLICY_ALLOWS_PUBLIC_DNS] = "policy_allows_public_dns",
	[VERDICT_RECURSION_OFFERED] = "recursion_offered",
	[VERDICT_CAPTURE_DEGRADED] = "capture_degraded",
	[VERDICT_AGENT_NOT_RUNNING] = "agent_not_running",
	[VERDICT_LISTENER_SCAN_STALE] = "listener_scan_stale",
};

/* Not compliant: outside clients can get DNS answers, or nothing keeps
 * the rules in place. At risk: the guarantee or its evidence is weaker
 * than configured, but the refuse is there. */
static const enum verdict_state code_severity[_VERDICT_CODE_MAX] = {
	[VERDICT_RULES_MISSING] = VERDICT_NOT_COMPLIANT,
	[VERDICT_RULES_UNVERIFIED] = VERDICT_AT_RISK,
	[VERDICT_MODE_MONITOR] = VERDICT_NOT_COMPLIANT,
	[VERDICT_CONFIG_FALLBACK] = VERDICT_AT_RISK,
	[VERDICT_ALLOW_EVERYTHING] = VERDICT_NOT_COMPLIANT,
	[VERDICT_ALLOW_BROAD] = VERDICT_AT_RISK,
	[VERDICT_EXEMPT_UPLINK] = VERDICT_NOT_COMPLIANT,
	[VERDICT_TCP53_PUBLIC] = VERDICT_NOT_COMPLIANT,
	[VERDICT_LISTENER_UNFILTERED] = VERDICT_NOT_COMPLIANT,
	[VERDICT_POLICY_ALLOWS_PUBLIC_DNS] = VERDICT_NOT_COMPLIANT,
	[VERDICT_RECURSION_OFFERED] = VERDICT_NOT_COMPLIANT,
	[VERDICT_CAPTURE_DEGRADED] = VERDICT_AT_RISK,
	[VERDICT_AGENT_NOT_RUNNING] = VERDICT_NOT_COMPLIANT,
	[VERDICT_LISTENER_SCAN_STALE] = VERDICT_AT_RISK,
};

static const char *const state_names[] = {
	[VERDICT_COMPLIANT] = "compliant",
	[VERDICT_AT_RISK] = "at_risk",
	[VERDICT_NOT_COMPLIANT] = "not_compliant",
};

const char *verdict_code_name(enum verdict_code c)
{
	return (unsigned)c < _VERDICT_CODE_MAX ? code_names[c] : "unknown";
}

enum verdict_state verdict_code_severity(enum verdict_code c)
{
	return (unsigned)c < _VERDICT_CODE_MAX ? code_severity[c] : VERDICT_NOT_COMPLIANT;
}

int verdict_code_from_name(const char *name, enum verdict_code *ret)
{
	for (int c = 0; name && c < _VERDICT_CODE_MAX; c++)
		if (strcmp(name, code_names[c]) == 0) {
			*ret = (enum verdict_code)c;
			return 0;
		}
	return -EINVAL;
}

const char *verdict_state_name(enum verdict_state s)
{
	return (unsigned)s <= VERDICT_NOT_COMPLIANT ? state_names[s] : "unknown";
}

int verdict_state_from_name(const char *name, enum verdict_state *ret)
{
	for (int s = 0; name && s <= VERDICT_NOT_COMPLIANT; s++)
		if (strcmp(name, state_names[s]) == 0) {
			*ret = (enum verdict_state)s;
			return 0;
		}
	return -EINVAL;
}

bool verdict_ifname_matches(const char *pattern, const char *ifname)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, ifname, n - 1) == 0;
	return strcmp(pattern, ifname) == 0;
}

__attribute__((format(printf, 3, 4)))
static void set(struct verdict *v, enum verdict_code c, const char *fmt, ...)
{
	va_list ap;

	v->findings[c].active = true;
	va_start(ap, fmt);
	vsnprintf(v->findings[c].message, sizeof(v->findings[c].message), fmt, ap);
	va_end(ap);
}

static void check_rules(const struct verdict_inputs *in, struct verdict *v)
{
	if (in->mode == AGENT_MODE_MONITOR)
		set(v, VERDICT_MODE_MONITOR, "mode is monitor: inbound DNS is observed, not refused");
	if (in->should_enforce && !in->enforcing)
		set(v, VERDICT_RULES_MISSING, "the refuse rules should be in the kernel and are not");
	if (in->enforcing && in->agent_known &&
	    (in->verified_at == 0 || in->now - in->verified_at > VERDICT_VERIFY_MAX_AGE_S))
		set(v, VERDICT_RULES_UNVERIFIED, "the rules were not verified in the last %d s", VERDICT_VERIFY_MAX_AGE_S);
	if (in->config_fallback)
		set(v, VERDICT_CONFIG_FALLBACK, "the rules in force are a fallback: %s",
		    in->fallback_reason && in->fallback_reason[0] ? in->fallback_reason : "reason unknown");
}

static void check_allow(const struct verdict_inputs *in, struct verdict *v)
{
	char text[CIDR_STRLEN];

	for (size_t i = 0; i < in->n_allow; i++) {
		const struct cidr *c = &in->allow[i];
		unsigned broad = c->family == AF_INET ? VERDICT_BROAD_PREFIX4 : VERDICT_BROAD_PREFIX6;

		cidr_format(c, text, sizeof(text));
		if (c->prefix == 0 && !v->findings[VERDICT_ALLOW_EVERYTHING].active)
			set(v, VERDICT_ALLOW_EVERYTHING, "allow = %s accepts DNS from every %s address", text,
			    c->family == AF_INET ? "IPv4" : "IPv6");
		else if (c->prefix > 0 && c->prefix < broad && !v->findings[VERDICT_ALLOW_BROAD].active)
			set(v, VERDICT_ALLOW_BROAD, "allow = %s is broader than /%u", text, broad);
	}
}

static void check_exempt(const struct verdict_inputs *in, struct verdict *v)
{
	for (size_t i = 0; i < in->n_exempt; i++)
		for (size_t j = 0; j < in->n_uplinks; j++)
			if (verdict_ifname_matches(in->exempt[i], in->uplinks[j])) {
				set(v, VERDICT_EXEMPT_UPLINK, "exempt interface %s matches %s, which carries a default route",
				    in->exempt[i], in->uplinks[j]);
				return;
			}
}

static void check_exposure(const struct verdict_inputs *in, struct verdict *v)
{
	if (in->tcp53_public && !(in->protocols & CONFIG_PROTO_TCP))
		set(v, VERDICT_TCP53_PUBLIC, "%u public TCP:53 listener%s while protocols = udp: TCP:53 is open",
		    in->tcp53_public, in->tcp53_public == 1 ? "" : "s");
	if (in->listeners_unfiltered)
		set(v, VERDICT_LISTENER_UNFILTERED, "%u public listener%s in namespaces with their own link: "
		    "the host rule cannot reach them", in->listeners_unfiltered, in->listeners_unfiltered == 1 ? "" : "s");
	if (in->policy_public_dns)
		set(v, VERDICT_POLICY_ALLOWS_PUBLIC_DNS, "the cloud policy accepts DNS from 0.0.0.0/0 or ::/0");
	if (in->recursion_offered_last &&
	    (in->recursion_window_s == 0 || in->now - in->recursion_offered_last <= (time_t)in->recursion_window_s))
		set(v, VERDICT_RECURSION_OFFERED, "an outside client got a recursive answer within the last %u s",
		    in->recursion_window_s);
}

static void check_agent(const struct verdict_inputs *in, struct verdict *v)
{
	bool missing = in->capture_missing && in->capture_missing[0];

	if (in->agent_known && !in->agent_running)
		set(v, VERDICT_AGENT_NOT_RUNNING, "the agent is not running: nothing keeps the rules in place");
	if (missing)
		set(v, VERDICT_CAPTURE_DEGRADED, "capture interfaces not open: %s", in->capture_missing);
	else if (in->capture_degraded)
		set(v, VERDICT_CAPTURE_DEGRADED, "packet capture is not running: no traffic evidence");
	/* A scan that keeps failing leaves the listener findings as they
	 * were: a new public listener would go unnoticed. */
	if (in->agent_known && in->agent_running && in->listeners_max_age_s && in->listeners_scanned_at &&
	    in->now - in->listeners_scanned_at > (time_t)in->listeners_max_age_s)
		set(v, VERDICT_LISTENER_SCAN_STALE, "the listener scan has not succeeded for %lld s "
		    "(limit %u s): new listeners go unnoticed", (long long)(in->now - in->listeners_scanned_at),
		    in->listeners_max_age_s);
}

void verdict_compute(const struct verdict_inputs *in, const struct verdict *prev, struct verdict *out)
{
	struct verdict v = { .state = VERDICT_COMPLIANT, .computed_at = in->now };

	check_rules(in, &v);
	check_allow(in, &v);
	check_exempt(in, &v);
	check_exposure(in, &v);
	check_agent(in, &v);
	for (int c = 0; c < _VERDICT_CODE_MAX; c++) {
		struct verdict_finding *f = &v.findings[c];

		if (!f->active)
			continue;
		f->since = prev && prev->findings[c].active ? prev->findings[c].since : in->now;
		if (code_severity[c] > v.state)
			v.state = code_severity[c];
	}
	*out = v;
}

char *verdict_codes_text(const struct verdict *v, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int c = 0; c < _VERDICT_CODE_MAX; c++) {
		int n;

		if (!v->findings[c].active)
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? " " : "", code_names[c]);
		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = '\0';       /* whole codes only */
			break;
		}
		off += (size_t)n;
	}
	return buf;
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *verdict_to_json(const struct verdict *v)
{
	json_t *list = json_array(), *root;
	char t[32];

	for (int c = 0; list && c < _VERDICT_CODE_MAX; c++) {
		const struct verdict_finding *f = &v->findings[c];

		if (!f->active)
			continue;
		char *msg = log_escape(f->message, strlen(f->message), NULL);
		json_t *o;

		iso_time(f->since, t, sizeof(t));
		/* Messages hold configuration values (interface names): escaped
		 * like the log, so the JSON is valid UTF-8 whatever they are. */
		o = json_pack("{s:s, s:s, s:s?, s:s, s:I}", "code", code_names[c],
			      "severity", state_names[code_severity[c]], "message", msg,
			      "since", t, "since_unix", (json_int_t)f->since);
		free(msg);
		if (json_array_append_new(list, o) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	iso_time(v->computed_at, t, sizeof(t));
	root = json_pack("{s:s, s:s, s:o}", "state", state_names[v->state], "computed_at", t, "findings", list);
	return root;
}
