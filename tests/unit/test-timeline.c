/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journalread.h"
#include "timeline.h"

#define S 1000000LL
#define T0 (1800000000LL * S)   /* 2027-01-15T08:00:00Z */
#define BA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* One synthetic event: seconds after T0 (milliseconds allowed), the boot,
 * the boot's kernel start (seconds after T0), the name and "k=v;k=v". */
struct ev {
	double t;
	const char *boot;
	double boot_start;
	const char *name;
	const char *fields;
};

struct want_gap {
	double start, seconds;
	enum timeline_cause cause;
	const char *detail_has;
};

static void feed(struct timeline *tl, const struct ev *evs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct timeline_event e = { 0 };
		char buf[512], *save = NULL;

		e.t_us = T0 + (int64_t)(evs[i].t * S);
		e.boot_id = evs[i].boot;
		e.boot_start_us = T0 + (int64_t)(evs[i].boot_start * S);
		e.event = evs[i].name;
		snprintf(buf, sizeof(buf), "%s", evs[i].fields ? evs[i].fields : "");
		for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
			char *eq = strchr(kv, '=');
			int f;

			assert_non_null(eq);
			f = timeline_field_from_key(kv, (size_t)(eq - kv));
			assert_true(f >= 0);
			e.f[f] = eq + 1;
		}
		assert_int_equal(timeline_add(tl, &e), 0);
	}
	assert_int_equal(timeline_finish(tl), 0);
}

static void check_gaps(const struct timeline *tl, const struct want_gap *w, size_t n)
{
	for (size_t i = 0; i < tl->n_gaps; i++)
		printf("# gap %zu: %.3f +%.3f %s %s\n", i, (double)(tl->gaps[i].start_us - T0) / S,
		       (double)(tl->gaps[i].end_us - tl->gaps[i].start_us) / S, timeline_cause_name(tl->gaps[i].cause),
		       tl->gaps[i].detail);
	assert_int_equal(tl->n_gaps, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(tl->gaps[i].start_us, T0 + (int64_t)(w[i].start * S));
		assert_int_equal(tl->gaps[i].end_us - tl->gaps[i].start_us, (int64_t)(w[i].seconds * S));
		assert_string_equal(timeline_cause_name(tl->gaps[i].cause), timeline_cause_name(w[i].cause));
		if (w[i].detail_has && !strstr(tl->gaps[i].detail, w[i].detail_has))
			fail_msg("gap %zu detail '%s' lacks '%s'", i, tl->gaps[i].detail, w[i].detail_has);
	}
}

static int64_t enforced_expected(double window, const struct want_gap *w, size_t n)
{
	double g = 0;

	for (size_t i = 0; i < n; i++)
		g += w[i].seconds;
	return (int64_t)((window - g) * S + 0.5);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A boot followed from the kernel's start: 2 s without rules, then a drift
 * by nft repaired 0.4 s later. */
static void test_drift(void **state)
{
	static const struct ev evs[] = {
		{ 1, BA, -1, "agent_started", "mode=enforce;pid=10;version=0.1.0" },
		{ 1, BA, -1, "rules_applied", "reason=start" },
		{ 30, BA, -1, "summary", "mode=enforce;enforcing=yes;queries=5;dropped_udp=4;dropped_tcp=0" },
		{ 40, BA, -1, "rules_drift", "pid=4242;comm=nft;change=table deleted" },
		{ 40.2, BA, -1, "rules_drift", "pid=4242;comm=nft;change=chain deleted" },
		{ 40.4, BA, -1, "rules_restored", "cause=change by another process" },
		{ 60, BA, -1, "summary", "mode=enforce;enforcing=yes;queries=9;dropped_udp=10;dropped_tcp=1" },
	};
	static const struct want_gap w[] = {
		{ 0, 1, TL_CAUSE_AGENT_NOT_RUNNING, "kernel's start" },
		{ 40, 0.4, TL_CAUSE_DRIFT, "pid 4242 (nft): table deleted" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 90 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.enforced_us, enforced_expected(90, w, N(w)));
	assert_int_equal(tl.n_boots, 1);
	assert_int_equal(tl.boots[0].start_us, T0 - S);
	assert_int_equal(tl.boots[0].rules_after_us, 2 * S);
	assert_int_equal(tl.inbound_total, 9);
	assert_int_equal(tl.refused_total, 11);
	timeline_free(&tl);
}

/* The built-in refuse after a broken configuration: refused, but not the
 * configured rules, until a valid reload. */
static void test_fallback(void **state)
{
	static const struct ev evs[] = {
		{ -50, BA, -100, "summary", "mode=enforce;enforcing=yes" },
		{ 10, BA, -100, "agent_stopped", "exit_status=0" },
		{ 12, BA, -100, "agent_started", "mode=enforce;pid=11" },
		{ 12.5, BA, -100, "rules_fallback", "rules=builtin;reason=config invalid;config_sha256=abcd" },
		{ 12.5, BA, -100, "rules_applied", "reason=start" },
		{ 70, BA, -100, "rules_applied", "reason=reload" },
		{ 70, BA, -100, "config_reloaded", "mode=enforce;files=1;hash=ef01" },
	};
	static const struct want_gap w[] = {
		{ 10, 2.5, TL_CAUSE_AGENT_NOT_RUNNING, "agent stopped" },
		{ 12.5, 57.5, TL_CAUSE_CONFIG_FALLBACK, "builtin" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 100 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.enforced_us, enforced_expected(100, w, N(w)));
	assert_int_equal(tl.n_changes, 3);
	assert_string_equal(tl.changes[1].kind, "rules_fallback");
	assert_string_equal(tl.changes[1].hash, "abcd");
	assert_string_equal(tl.changes[2].hash, "ef01");
	/* the first boot was not followed from its start */
	assert_int_equal(tl.boots[0].rules_after_us, -1);
	timeline_free(&tl);
}

/* Power lost while enforcing: the rest of the boot is unknown, the next
 * boot has no rules until the agent applies them. */
static void test_reboot_without_stop(void **state)
{
	static const struct ev evs[] = {
		{ -10, BA, -500, "summary", "mode=enforce;enforcing=yes" },
		{ 20, BA, -500, "summary", "mode=enforce;enforcing=yes" },
		{ 50, BA, -500, "summary", "mode=enforce;enforcing=yes" },
		{ 107, BB, 100, "agent_started", "mode=enforce;pid=1" },
		{ 109, BB, 100, "rules_applied", "reason=start" },
		{ 139, BB, 100, "summary", "mode=enforce;enforcing=yes" },
	};
	static const struct want_gap w[] = {
		{ 50, 50, TL_CAUSE_UNKNOWN, "without agent_stopped" },
		{ 100, 9, TL_CAUSE_AGENT_NOT_RUNNING, "kernel's start" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 150 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.n_boots, 2);
	assert_string_equal(tl.boots[1].boot_id, BB);
	assert_int_equal(tl.boots[1].start_us, T0 + 100 * S);
	assert_int_equal(tl.boots[1].rules_after_us, 9 * S);
	timeline_free(&tl);
}

/* Holes: summaries every 10 s, then nothing for 100 s while the agent runs
 * (rotation, vacuum); and a journal that begins inside the window. */
static void test_holes(void **state)
{
	static const struct ev evs[] = {
		{ 20, BA, -30, "summary", "mode=enforce;enforcing=yes;queries=3" },
		{ 30, BA, -30, "summary", "mode=enforce;enforcing=yes;queries=4" },
		{ 40, BA, -30, "summary", "mode=enforce;enforcing=yes;queries=1" },
		{ 140, BA, -30, "summary", "mode=enforce;enforcing=yes;queries=2" },
		{ 150, BA, -30, "summary", "mode=enforce;enforcing=yes;queries=2" },
	};
	static const struct want_gap w[] = {
		{ 0, 20, TL_CAUSE_UNKNOWN, "no entries from the agent before" },
		{ 50, 90, TL_CAUSE_UNKNOWN, "for 100 s" },
		/* the journal ends while the agent ran: unknown after the next
		 * summary that never came */
		{ 160, 40, TL_CAUSE_UNKNOWN, "for 50 s" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 200 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.enforced_us, enforced_expected(200, w, N(w)));
	/* 3 (new count), 1, 1 (count restarted), 1, 0 */
	assert_int_equal(tl.inbound_total, 3 + 1 + 1 + 1 + 0);
	timeline_free(&tl);
}

/* An hourly summary: the agent's summary_interval_s says so, and an hour
 * without entries is no hole; an older agent's start without the field
 * falls back to the 300 s default until summaries are seen. */
static void test_logged_interval(void **state)
{
	static const struct ev with[] = {
		{ 0, BA, -5, "agent_started", "mode=enforce;pid=2;summary_interval_s=3600" },
		{ 0, BA, -5, "rules_applied", "reason=start" },
		{ 3600, BA, -5, "summary", "mode=enforce;enforcing=yes" },
		{ 7200, BA, -5, "summary", "mode=enforce;enforcing=yes" },
		{ 17000, BA, -5, "config_reloaded", "mode=enforce;summary_interval_s=60" },
		{ 17200, BA, -5, "summary", "mode=enforce;enforcing=yes" },
	};
	static const struct want_gap w_with[] = {
		/* 7200 + 3600 * 2 + 10 s < 17000: a hole from 7200 + 3600 */
		{ 10800, 6200, TL_CAUSE_UNKNOWN, "for 9800 s" },
		/* after the reload to 60 s: 200 s without entries is one */
		{ 17060, 140, TL_CAUSE_UNKNOWN, "for 200 s" },
	};
	static const struct ev without[] = {
		{ 0, BA, -5, "agent_started", "mode=enforce;pid=2" },
		{ 0, BA, -5, "rules_applied", "reason=start" },
		{ 3600, BA, -5, "summary", "mode=enforce;enforcing=yes" },
	};
	static const struct want_gap w_without[] = {
		{ 300, 3300, TL_CAUSE_UNKNOWN, "for 3600 s" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 17300 * S);
	feed(&tl, with, N(with));
	check_gaps(&tl, w_with, N(w_with));
	timeline_free(&tl);
	timeline_init(&tl, T0, T0 + 3700 * S);
	feed(&tl, without, N(without));
	check_gaps(&tl, w_without, N(w_without));
	timeline_free(&tl);
}

/* Monitor mode, auto mode waiting, rules removed on stop, a failed apply,
 * and a crash (a start with no stop before it). */
static void test_modes(void **state)
{
	static const struct ev evs[] = {
		{ 0, BA, -5, "agent_started", "mode=monitor;pid=2" },
		{ 0.1, BA, -5, "rules_removed", "reason=mode is monitor: observing only" },
		{ 20, BA, -5, "config_reloaded", "mode=enforce;files=1" },
		{ 20, BA, -5, "rules_applied", "reason=reload" },
		{ 30, BA, -5, "rules_removed", "reason=stop with keep_on_stop=no" },
		{ 30, BA, -5, "agent_stopped", "exit_status=0" },
		{ 40, BA, -5, "agent_started", "mode=auto;pid=3" },
		{ 50, BA, -5, "rules_applied", "reason=auto" },
		{ 60, BA, -5, "agent_started", "mode=enforce;pid=4" },
		{ 60, BA, -5, "rules_apply_failed", "reason=start;error=Operation not permitted" },
		{ 80, BA, -5, "summary", "mode=enforce;enforcing=no" },
	};
	static const struct want_gap w[] = {
		{ 0, 20, TL_CAUSE_MODE_MONITOR, "monitor" },
		{ 30, 10, TL_CAUSE_AGENT_NOT_RUNNING, "exit status 0" },
		{ 40, 10, TL_CAUSE_AUTO_WAITING, "auto" },
		{ 50, 10, TL_CAUSE_UNKNOWN, "restarted without agent_stopped" },
		{ 60, 30, TL_CAUSE_RULES_MISSING, "Operation not permitted" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 90 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.enforced_us, 10 * S);
	timeline_free(&tl);
}

/* The agent logs rules_removed just before config_reloaded (into monitor
 * mode) and before agent_stopped: one gap with the cause that follows. A
 * removal that lasts is its own gap. */
static void test_removed_then(void **state)
{
	static const struct ev evs[] = {
		{ 0, BA, -5, "summary", "mode=enforce;enforcing=yes" },
		{ 10, BA, -5, "rules_removed", "reason=reload: the mode no longer enforces" },
		{ 10.0005, BA, -5, "config_reloaded", "mode=monitor;files=1" },
		{ 20, BA, -5, "rules_applied", "reason=reload" },
		{ 20, BA, -5, "config_reloaded", "mode=enforce;files=1" },
		{ 30, BA, -5, "rules_removed", "reason=stop with keep_on_stop=no" },
		{ 30.2, BA, -5, "agent_stopped", "exit_status=0" },
		{ 40, BA, -5, "agent_started", "mode=enforce;pid=5" },
		{ 40.1, BA, -5, "rules_applied", "reason=start" },
		{ 50, BA, -5, "rules_removed", "reason=someone" },
		{ 55, BA, -5, "rules_applied", "reason=repair" },
	};
	static const struct want_gap w[] = {
		{ 10, 10, TL_CAUSE_MODE_MONITOR, "monitor" },
		{ 30, 10.1, TL_CAUSE_AGENT_NOT_RUNNING, "exit status 0" },
		{ 50, 5, TL_CAUSE_RULES_REMOVED, "someone" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 60 * S);
	feed(&tl, evs, N(evs));
	check_gaps(&tl, w, N(w));
	assert_int_equal(tl.enforced_us, enforced_expected(60, w, N(w)));
	timeline_free(&tl);
}

/* Listeners and recursion: only public ones; first and last seen. */
static void test_listeners(void **state)
{
	static const struct ev evs[] = {
		{ 0, BA, -5, "agent_started", "mode=enforce;pid=2" },
		{ 0, BA, -5, "rules_applied", "reason=start" },
		{ 1, BA, -5, "listener_found", "proto=udp;addr=0.0.0.0;port=53;exposure=public;pid=9;comm=dnsmasq" },
		{ 1, BA, -5, "listener_found", "proto=udp;addr=127.0.0.53;port=53;exposure=local;pid=8;comm=resolved" },
		{ 5, BA, -5, "recursion_offered", "querier=198.51.100.7;server=192.0.2.1;qname=example.org;qtype=A" },
		{ 9, BA, -5, "listener_gone", "proto=udp;addr=0.0.0.0;port=53;exposure=public;pid=9;comm=dnsmasq" },
		{ 10, BA, -5, "listener_found", "proto=tcp;addr=::;port=53;exposure=public;pid=12;comm=named;unit=named.service" },
		{ 20, BA, -5, "summary", "mode=enforce;enforcing=yes" },
	};
	struct timeline tl;

	(void)state;
	timeline_init(&tl, T0, T0 + 30 * S);
	feed(&tl, evs, N(evs));
	assert_int_equal(tl.n_listeners, 2);
	assert_string_equal(tl.listeners[0].addr, "0.0.0.0");
	assert_int_equal(tl.listeners[0].first_us, T0 + 1 * S);
	assert_int_equal(tl.listeners[0].last_us, T0 + 9 * S);
	assert_false(tl.listeners[0].open);
	assert_true(tl.listeners[1].open);
	assert_non_null(strstr(tl.listeners[1].owner, "unit named.service"));
	assert_int_equal(tl.n_recursion, 1);
	assert_string_equal(tl.recursion[0].querier, "198.51.100.7");
	assert_int_equal(tl.n_gaps, 0);
	assert_int_equal(tl.enforced_us, 30 * S);
	timeline_free(&tl);
}

static void test_parse_when(void **state)
{
	static const struct {
		const char *in;
		int ret;
		int64_t want;   /* seconds after T0 */
	} cases[] = {
		{ "now", 0, 0 },
		{ "boot", 0, -3600 },
		{ "-30d", 0, -30 * 86400 },
		{ "-12h", 0, -12 * 3600 },
		{ "-10m", 0, -600 },
		{ "-30s", 0, -30 },
		{ "2027-01-15T08:00:00Z", 0, 0 },
		{ "2027-01-15T16:00:00+08:00", 0, 0 },
		{ "2027-01-15T03:00:00-0500", 0, 0 },
		{ "2027-01-15 08:00", 0, 0 },
		{ "2027-01-15", 0, -8 * 3600 },
		{ "2027-01-15T08:00:00.5Z", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "-", -EINVAL, 0 },
		{ "-5", -EINVAL, 0 },
		{ "-5w", -EINVAL, 0 },
		{ "-5dd", -EINVAL, 0 },
		{ "30d", -EINVAL, 0 },
		{ "2027-13-01", -EINVAL, 0 },
		{ "2027-01-15T25:00", -EINVAL, 0 },
		{ "2027-01-15T08:00:00+8", -EINVAL, 0 },
		{ "2027-01-15X", -EINVAL, 0 },
		{ "-99999999999999999999d", -EINVAL, 0 },
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int r = timeline_parse_when(cases[i].in, T0, T0 - 3600 * S, &v);

		if (r != cases[i].ret)
			fail_msg("'%s': %d, want %d", cases[i].in, r, cases[i].ret);
		if (r == 0 && strstr(cases[i].in, ".5Z"))
			assert_int_equal(v, T0 + S / 2);
		else if (r == 0)
			assert_int_equal(v, T0 + cases[i].want * S);
	}
	assert_int_equal(timeline_parse_when("boot", T0, -1, &v), -EINVAL);
}

static void test_format_time(void **state)
{
	char buf[48];

	(void)state;
	timeline_format_time(T0 + 1234 * 1000, buf, sizeof(buf));
	assert_string_equal(buf, "2027-01-15T08:00:01.234Z");
	timeline_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_header_sealed(void **state)
{
	unsigned char h[16] = "LPKSHHRH";

	(void)state;
	assert_int_equal(journalread_header_sealed(h, sizeof(h)), 0);
	h[8] = 1;
	assert_int_equal(journalread_header_sealed(h, sizeof(h)), 1);
	h[8] = 2;       /* another compatible flag alone: not sealed */
	assert_int_equal(journalread_header_sealed(h, sizeof(h)), 0);
	assert_int_equal(journalread_header_sealed(h, 15), -EINVAL);
	h[0] = 'X';
	assert_int_equal(journalread_header_sealed(h, sizeof(h)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_reboot_without_stop),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_logged_interval),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_removed_then),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_parse_when),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_header_sealed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
