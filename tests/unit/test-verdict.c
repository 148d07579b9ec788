/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "verdict.h"

#define NOW ((time_t)1800000000)

/* A host that is compliant: enforcing, freshly verified, a narrow
 * allowlist, an exempt bridge that is no uplink, nothing exposed. */
struct fixture {
	struct cidr allow[2];
	char *exempt[2];
	char *uplinks[2];
	struct verdict_inputs in;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(cidr_parse("192.0.2.0/24", &f->allow[0]), 0);
	assert_int_equal(cidr_parse("2001:db8::/48", &f->allow[1]), 0);
	f->exempt[0] = "docker0";
	f->exempt[1] = "br-*";
	f->uplinks[0] = "eth0";
	f->uplinks[1] = "wg0";
	f->in = (struct verdict_inputs){
		.now = NOW,
		.agent_known = true,
		.agent_running = true,
		.mode = AGENT_MODE_ENFORCE,
		.should_enforce = true,
		.enforcing = true,
		.verified_at = NOW - 3,
		.protocols = CONFIG_PROTO_UDP,
		.allow = f->allow,
		.n_allow = 2,
		.exempt = f->exempt,
		.n_exempt = 2,
		.uplinks = f->uplinks,
		.n_uplinks = 2,
		.recursion_window_s = 300,
	};
}

static unsigned n_active(const struct verdict *v)
{
	unsigned n = 0;

	for (int c = 0; c < _VERDICT_CODE_MAX; c++)
		n += v->findings[c].active;
	return n;
}

static void test_baseline_compliant(void **state)
{
	struct fixture f;
	struct verdict v;

	(void)state;
	fixture_init(&f);
	verdict_compute(&f.in, NULL, &v);
	assert_int_equal(v.state, VERDICT_COMPLIANT);
	assert_int_equal(n_active(&v), 0);
	assert_int_equal(v.computed_at, NOW);
}

/* One case: a change to the compliant inputs, the one code it must raise
 * (or _VERDICT_CODE_MAX for none) and the resulting state. */
struct code_case {
	const char *name;
	void (*turn)(struct fixture *f);
	enum verdict_code code;
	enum verdict_state state;
};

static void set_monitor(struct fixture *f)
{
	f->in.mode = AGENT_MODE_MONITOR;
	f->in.should_enforce = false;
	f->in.enforcing = false;
}
static void set_auto_waiting(struct fixture *f)
{
	f->in.mode = AGENT_MODE_AUTO;
	f->in.should_enforce = false;
	f->in.enforcing = false;
}
static void set_rules_missing(struct fixture *f) { f->in.enforcing = false; }
static void set_unverified_old(struct fixture *f) { f->in.verified_at = NOW - VERDICT_VERIFY_MAX_AGE_S - 1; }
static void set_unverified_never(struct fixture *f) { f->in.verified_at = 0; }
static void set_verified_edge(struct fixture *f) { f->in.verified_at = NOW - VERDICT_VERIFY_MAX_AGE_S; }
static void set_fallback(struct fixture *f)
{
	f->in.config_fallback = true;
	f->in.fallback_reason = "the built-in refuse: the policy file cannot be read";
}
static void set_allow_all4(struct fixture *f) { assert_int_equal(cidr_parse("0.0.0.0/0", &f->allow[0]), 0); }
static void set_allow_all6(struct fixture *f) { assert_int_equal(cidr_parse("::/0", &f->allow[1]), 0); }
static void set_allow_broad4(struct fixture *f) { assert_int_equal(cidr_parse("10.0.0.0/7", &f->allow[0]), 0); }
static void set_allow_edge4(struct fixture *f) { assert_int_equal(cidr_parse("10.0.0.0/8", &f->allow[0]), 0); }
static void set_allow_broad6(struct fixture *f) { assert_int_equal(cidr_parse("2001:d00::/31", &f->allow[1]), 0); }
static void set_allow_edge6(struct fixture *f) { assert_int_equal(cidr_parse("2001:db8::/32", &f->allow[1]), 0); }
static void set_exempt_uplink(struct fixture *f) { f->exempt[0] = "eth0"; }
static void set_exempt_pattern_uplink(struct fixture *f) { f->exempt[1] = "e*"; }
static void set_exempt_prefix_not_uplink(struct fixture *f) { f->exempt[1] = "eth0x*"; }
static void set_tcp_public(struct fixture *f) { f->in.tcp53_public = 1; }
static void set_tcp_public_refused(struct fixture *f)
{
	f->in.tcp53_public = 2;
	f->in.protocols = CONFIG_PROTO_UDP | CONFIG_PROTO_TCP;
}
static void set_unfiltered(struct fixture *f) { f->in.listeners_unfiltered = 1; }
static void set_policy_public(struct fixture *f) { f->in.policy_public_dns = true; }
static void set_recursion_recent(struct fixture *f) { f->in.recursion_offered_last = NOW - 300; }
static void set_recursion_old(struct fixture *f) { f->in.recursion_offered_last = NOW - 301; }
static void set_capture_degraded(struct fixture *f) { f->in.capture_degraded = true; }
static void set_capture_missing(struct fixture *f) { f->in.capture_missing = "nope0"; }
static void set_capture_missing_empty(struct fixture *f) { f->in.capture_missing = ""; }
static void set_not_running(struct fixture *f) { f->in.agent_running = false; }
static void set_scan_stale(struct fixture *f)
{
	f->in.listeners_scanned_at = NOW - 76;
	f->in.listeners_max_age_s = 75;
}
static void set_scan_at_limit(struct fixture *f)
{
	f->in.listeners_scanned_at = NOW - 75;
	f->in.listeners_max_age_s = 75;
}
static void set_scan_stale_not_running(struct fixture *f)
{
	/* A stopped agent is agent_not_running; its scans are beside the point. */
	set_scan_stale(f);
	f->in.agent_running = false;
}
static void set_scan_view(struct fixture *f)
{
	/* scan knows no agent: neither running nor stopped, nor verified. */
	f->in.agent_known = false;
	f->in.agent_running = false;
	f->in.verified_at = 0;
}

static const struct code_case code_cases[] = {
	{ "monitor", set_monitor, VERDICT_MODE_MONITOR, VERDICT_NOT_COMPLIANT },
	{ "auto, waiting", set_auto_waiting, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "rules missing", set_rules_missing, VERDICT_RULES_MISSING, VERDICT_NOT_COMPLIANT },
	{ "verified too long ago", set_unverified_old, VERDICT_RULES_UNVERIFIED, VERDICT_AT_RISK },
	{ "never verified", set_unverified_never, VERDICT_RULES_UNVERIFIED, VERDICT_AT_RISK },
	{ "verified at the limit", set_verified_edge, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "fallback", set_fallback, VERDICT_CONFIG_FALLBACK, VERDICT_AT_RISK },
	{ "allow 0.0.0.0/0", set_allow_all4, VERDICT_ALLOW_EVERYTHING, VERDICT_NOT_COMPLIANT },
	{ "allow ::/0", set_allow_all6, VERDICT_ALLOW_EVERYTHING, VERDICT_NOT_COMPLIANT },
	{ "allow /7", set_allow_broad4, VERDICT_ALLOW_BROAD, VERDICT_AT_RISK },
	{ "allow /8", set_allow_edge4, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "allow v6 /31", set_allow_broad6, VERDICT_ALLOW_BROAD, VERDICT_AT_RISK },
	{ "allow v6 /32", set_allow_edge6, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "exempt the uplink", set_exempt_uplink, VERDICT_EXEMPT_UPLINK, VERDICT_NOT_COMPLIANT },
	{ "exempt e*", set_exempt_pattern_uplink, VERDICT_EXEMPT_UPLINK, VERDICT_NOT_COMPLIANT },
	{ "exempt eth0x*", set_exempt_prefix_not_uplink, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "public TCP, udp only", set_tcp_public, VERDICT_TCP53_PUBLIC, VERDICT_NOT_COMPLIANT },
	{ "public TCP, udp,tcp", set_tcp_public_refused, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "unfiltered listener", set_unfiltered, VERDICT_LISTENER_UNFILTERED, VERDICT_NOT_COMPLIANT },
	{ "policy allows public DNS", set_policy_public, VERDICT_POLICY_ALLOWS_PUBLIC_DNS, VERDICT_NOT_COMPLIANT },
	{ "recursion in the interval", set_recursion_recent, VERDICT_RECURSION_OFFERED, VERDICT_NOT_COMPLIANT },
	{ "recursion before it", set_recursion_old, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "capture degraded", set_capture_degraded, VERDICT_CAPTURE_DEGRADED, VERDICT_AT_RISK },
	{ "capture interface missing", set_capture_missing, VERDICT_CAPTURE_DEGRADED, VERDICT_AT_RISK },
	{ "capture_missing empty", set_capture_missing_empty, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "agent not running", set_not_running, VERDICT_AGENT_NOT_RUNNING, VERDICT_NOT_COMPLIANT },
	{ "listener scan failing too long", set_scan_stale, VERDICT_LISTENER_SCAN_STALE, VERDICT_AT_RISK },
	{ "listener scan at the limit", set_scan_at_limit, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
	{ "stale scan, agent stopped", set_scan_stale_not_running, VERDICT_AGENT_NOT_RUNNING, VERDICT_NOT_COMPLIANT },
	{ "scan: agent unknown", set_scan_view, _VERDICT_CODE_MAX, VERDICT_COMPLIANT },
};

static void test_codes(void **state)
{
	bool covered[_VERDICT_CODE_MAX] = { false };

	(void)state;
	for (size_t i = 0; i < sizeof(code_cases) / sizeof(code_cases[0]); i++) {
		const struct code_case *k = &code_cases[i];
		struct fixture f;
		struct verdict v;

		fixture_init(&f);
		k->turn(&f);
		verdict_compute(&f.in, NULL, &v);
		if (v.state != k->state)
			fail_msg("%s: state %s, expected %s", k->name, verdict_state_name(v.state),
				 verdict_state_name(k->state));
		if (k->code == _VERDICT_CODE_MAX) {
			if (n_active(&v) != 0)
				fail_msg("%s: %u findings, expected none", k->name, n_active(&v));
			continue;
		}
		if (n_active(&v) != 1 || !v.findings[k->code].active)
			fail_msg("%s: expected exactly %s, got %u findings", k->name, verdict_code_name(k->code),
				 n_active(&v));
		assert_true(v.findings[k->code].message[0] != '\0');
		assert_int_equal(v.findings[k->code].since, NOW);
		assert_int_equal(verdict_code_severity(k->code), k->state);
		covered[k->code] = true;
	}
	for (int c = 0; c < _VERDICT_CODE_MAX; c++)
		if (!covered[c])
			fail_msg("no case turns %s on", verdict_code_name((enum verdict_code)c));
}

/* The worst finding decides; at_risk alone is at_risk. */
static void test_state_mapping(void **state)
{
	struct fixture f;
	struct verdict v;
	char codes[256];

	(void)state;
	fixture_init(&f);
	set_allow_broad4(&f);
	set_capture_degraded(&f);
	verdict_compute(&f.in, NULL, &v);
	assert_int_equal(v.state, VERDICT_AT_RISK);
	assert_string_equal(verdict_codes_text(&v, codes, sizeof(codes)), "allow_broad capture_degraded");
	set_tcp_public(&f);
	verdict_compute(&f.in, NULL, &v);
	assert_int_equal(v.state, VERDICT_NOT_COMPLIANT);
	assert_string_equal(verdict_codes_text(&v, codes, sizeof(codes)), "allow_broad tcp53_public capture_degraded");
	/* A short buffer cuts at a whole code. */
	assert_string_equal(verdict_codes_text(&v, codes, 20), "allow_broad");
}

/* since is when a finding became active, kept while it stays, new after
 * it went away and came back. */
static void test_since_kept(void **state)
{
	struct fixture f;
	struct verdict v1, v2, v3, v4;

	(void)state;
	fixture_init(&f);
	set_tcp_public(&f);
	verdict_compute(&f.in, NULL, &v1);
	assert_int_equal(v1.findings[VERDICT_TCP53_PUBLIC].since, NOW);

	f.in.now = NOW + 60;
	f.in.verified_at = NOW + 58;
	set_capture_degraded(&f);
	verdict_compute(&f.in, &v1, &v2);
	assert_int_equal(v2.findings[VERDICT_TCP53_PUBLIC].since, NOW);
	assert_int_equal(v2.findings[VERDICT_CAPTURE_DEGRADED].since, NOW + 60);
	assert_int_equal(v2.computed_at, NOW + 60);

	f.in.now = NOW + 120;
	f.in.verified_at = NOW + 118;
	f.in.tcp53_public = 0;
	verdict_compute(&f.in, &v2, &v3);
	assert_false(v3.findings[VERDICT_TCP53_PUBLIC].active);
	assert_int_equal(v3.findings[VERDICT_CAPTURE_DEGRADED].since, NOW + 60);

	f.in.now = NOW + 180;
	f.in.verified_at = NOW + 178;
	f.in.tcp53_public = 1;
	verdict_compute(&f.in, &v3, &v4);
	assert_int_equal(v4.findings[VERDICT_TCP53_PUBLIC].since, NOW + 180);

	/* prev may be out itself. */
	f.in.now = NOW + 240;
	f.in.verified_at = NOW + 238;
	verdict_compute(&f.in, &v4, &v4);
	assert_int_equal(v4.findings[VERDICT_TCP53_PUBLIC].since, NOW + 180);
	assert_int_equal(v4.findings[VERDICT_CAPTURE_DEGRADED].since, NOW + 60);
}

static void test_names(void **state)
{
	enum verdict_code c;
	enum verdict_state s;

	(void)state;
	for (int i = 0; i < _VERDICT_CODE_MAX; i++) {
		assert_int_equal(verdict_code_from_name(verdict_code_name((enum verdict_code)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_int_equal(verdict_code_from_name("no_such_code", &c), -EINVAL);
	for (int i = VERDICT_COMPLIANT; i <= VERDICT_NOT_COMPLIANT; i++) {
		assert_int_equal(verdict_state_from_name(verdict_state_name((enum verdict_state)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(verdict_state_from_name("green", &s), -EINVAL);
	assert_string_equal(verdict_code_name(VERDICT_EXEMPT_UPLINK), "exempt_uplink");
	assert_string_equal(verdict_state_name(VERDICT_AT_RISK), "at_risk");
}

static void test_ifname_matches(void **state)
{
	static const struct {
		const char *pattern, *ifname;
		bool match;
	} cases[] = {
		{ "eth0", "eth0", true },
		{ "eth0", "eth01", false },
		{ "eth*", "eth0", true },
		{ "e*", "ens3", true },
		{ "*", "anything", true },
		{ "br-*", "eth0", false },
		{ "eth0*", "eth", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (verdict_ifname_matches(cases[i].pattern, cases[i].ifname) != cases[i].match)
			fail_msg("\"%s\" vs \"%s\": expected %d", cases[i].pattern, cases[i].ifname, cases[i].match);
}

static void test_json(void **state)
{
	struct fixture f;
	struct verdict v;
	json_t *j, *fs, *x;

	(void)state;
	fixture_init(&f);
	f.exempt[0] = "eth0\x1b[2J";    /* a hostile name still gives valid JSON */
	f.uplinks[0] = "eth0\x1b[2J";
	set_capture_degraded(&f);
	verdict_compute(&f.in, NULL, &v);
	j = verdict_to_json(&v);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "not_compliant");
	fs = json_object_get(j, "findings");
	assert_int_equal(json_array_size(fs), 2);
	x = json_array_get(fs, 0);
	assert_string_equal(json_string_value(json_object_get(x, "code")), "exempt_uplink");
	assert_string_equal(json_string_value(json_object_get(x, "severity")), "not_compliant");
	assert_non_null(strstr(json_string_value(json_object_get(x, "message")), "eth0\\x1b[2J"));
	assert_int_equal(json_integer_value(json_object_get(x, "since_unix")), NOW);
	assert_string_equal(json_string_value(json_object_get(x, "since")), "2027-01-15T08:00:00Z");
	x = json_array_get(fs, 1);
	assert_string_equal(json_string_value(json_object_get(x, "severity")), "at_risk");
	json_decref(j);

	fixture_init(&f);
	verdict_compute(&f.in, NULL, &v);
	j = verdict_to_json(&v);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "compliant");
	assert_true(json_is_array(json_object_get(j, "findings")));
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_compliant),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_state_mapping),
		cmocka_unit_test(test_since_kept),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ifname_matches),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
