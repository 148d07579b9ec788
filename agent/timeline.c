/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "timeline.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USEC ((int64_t)1000000)
#define DEFAULT_INTERVAL_US (300 * USEC)  /* summary_interval's default */
#define HOLE_SLACK_US (10 * USEC)

static const char *const field_names[_TL_F_MAX] = {
	[TL_F_MODE] = "mode",
	[TL_F_ENFORCING] = "enforcing",
	[TL_F_REASON] = "reason",
	[TL_F_PID] = "pid",
	[TL_F_COMM] = "comm",
	[TL_F_CHANGE] = "change",
	[TL_F_FOUND_BY] = "found_by",
	[TL_F_CAUSE] = "cause",
	[TL_F_HASH] = "hash",
	[TL_F_CONFIG_SHA256] = "config_sha256",
	[TL_F_POLICY_SHA256] = "policy_sha256",
	[TL_F_VERSION] = "version",
	[TL_F_FILE] = "file",
	[TL_F_FILES] = "files",
	[TL_F_RULES] = "rules",
	[TL_F_LINE] = "line",
	[TL_F_KEY] = "key",
	[TL_F_ERROR] = "error",
	[TL_F_QUERIES] = "queries",
	[TL_F_DROPPED_UDP] = "dropped_udp",
	[TL_F_DROPPED_TCP] = "dropped_tcp",
	[TL_F_PROTO] = "proto",
	[TL_F_ADDR] = "addr",
	[TL_F_PORT] = "port",
	[TL_F_EXPOSURE] = "exposure",
	[TL_F_NETNS] = "netns",
	[TL_F_UNIT] = "unit",
	[TL_F_CONTAINER] = "container",
	[TL_F_QUERIER] = "querier",
	[TL_F_SERVER] = "server",
	[TL_F_QNAME] = "qname",
	[TL_F_QTYPE] = "qtype",
	[TL_F_SIGNAL] = "signal",
	[TL_F_TRIGGER] = "trigger",
	[TL_F_EXIT_STATUS] = "exit_status",
	[TL_F_SUMMARY_INTERVAL_S] = "summary_interval_s",
};

static const char *const cause_names[_TL_CAUSE_MAX] = {
	[TL_CAUSE_NONE] = "enforced",
	[TL_CAUSE_AGENT_NOT_RUNNING] = "agent_not_running",
	[TL_CAUSE_RULES_REMOVED] = "rules_removed",
	[TL_CAUSE_MODE_MONITOR] = "mode_monitor",
	[TL_CAUSE_DRIFT] = "drift",
	[TL_CAUSE_CONFIG_FALLBACK] = "config_fallback",
	[TL_CAUSE_UNKNOWN] = "unknown",
	[TL_CAUSE_RULES_MISSING] = "rules_missing",
	[TL_CAUSE_AUTO_WAITING] = "auto_waiting",
};

const char *timeline_field_name(enum timeline_field f)
{
	return f < _TL_F_MAX ? field_names[f] : NULL;
}

int timeline_field_from_key(const char *key, size_t len)
{
	for (int i = 0; i < _TL_F_MAX; i++)
		if (strlen(field_names[i]) == len && strncasecmp(field_names[i], key, len) == 0)
			return i;
	return -1;
}

const char *timeline_cause_name(enum timeline_cause c)
{
	return c < _TL_CAUSE_MAX ? cause_names[c] : "unknown";
}

static const char *fs(const struct timeline_event *ev, enum timeline_field f)
{
	return ev->f[f] ? ev->f[f] : "";
}

static bool is(const struct timeline_event *ev, const char *name)
{
	return strcmp(ev->event, name) == 0;
}

static void set_detail(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, TIMELINE_DETAIL_MAX, fmt, ap);
	va_end(ap);
}

static uint64_t to_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end ? 0 : (uint64_t)v;
}

/* Grows a list by one element; NULL when the cap or memory is reached. */
static void *grow(struct timeline *tl, void **arr, size_t *n, size_t cap, size_t size)
{
	void *p;

	if (*n >= cap)
		return NULL;
	if ((*n & (*n - 1)) == 0 || *n == 0) {      /* doubling at powers of two */
		size_t want = *n ? *n * 2 : 16;

		if (want > cap)
			want = cap;
		p = realloc(*arr, want * size);
		if (!p) {
			tl->nomem = 1;
			return NULL;
		}
		*arr = p;
	}
	p = (char *)*arr + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

void timeline_init(struct timeline *tl, int64_t since_us, int64_t until_us)
{
	memset(tl, 0, sizeof(*tl));
	tl->since_us = since_us;
	tl->until_us = until_us < since_us ? since_us : until_us;
	tl->seg_start_us = INT64_MIN;
	tl->seg_cause = TL_CAUSE_UNKNOWN;
	set_detail(tl->seg_detail, "no entries from the agent before this in the journal");
	set_detail(tl->off_detail, "%s", tl->seg_detail);
	tl->off_cause = TL_CAUSE_UNKNOWN;
	tl->journal_first_us = tl->journal_last_us = -1;
}

/* ---- segments ---- */

static void close_segment(struct timeline *tl, int64_t end)
{
	int64_t a = tl->seg_start_us > tl->since_us ? tl->seg_start_us : tl->since_us;
	int64_t b = end < tl->until_us ? end : tl->until_us;
	struct timeline_gap *g;

	if (b <= a)
		return;
	if (tl->seg_cause == TL_CAUSE_NONE) {
		tl->enforced_us += b - a;
		return;
	}
	if (tl->n_gaps) {
		g = &tl->gaps[tl->n_gaps - 1];
		if (g->end_us == a && g->cause == tl->seg_cause && strcmp(g->detail, tl->seg_detail) == 0) {
			g->end_us = b;
			return;
		}
		/* The agent logs rules_removed a moment before what it is part of
		 * (config_reloaded into monitor mode, agent_stopped): a removal
		 * shorter than a second that runs straight into another cause is
		 * that cause. */
		if (g->end_us == a && g->cause == TL_CAUSE_RULES_REMOVED && a - g->start_us < USEC) {
			g->end_us = b;
			g->cause = tl->seg_cause;
			memcpy(g->detail, tl->seg_detail, sizeof(g->detail));
			return;
		}
	}
	g = grow(tl, (void **)&tl->gaps, &tl->n_gaps, TIMELINE_MAX_GAPS, sizeof(*g));
	if (!g) {
		tl->gaps_omitted++;
		return;
	}
	g->start_us = a;
	g->end_us = b;
	g->cause = tl->seg_cause;
	memcpy(g->detail, tl->seg_detail, sizeof(g->detail));
}

static void open_segment(struct timeline *tl, int64_t t, enum timeline_cause cause, const char *detail)
{
	if (t < tl->seg_start_us)
		t = tl->seg_start_us;
	close_segment(tl, t);
	tl->seg_start_us = t;
	tl->seg_cause = cause;
	if (detail != tl->seg_detail)
		snprintf(tl->seg_detail, sizeof(tl->seg_detail), "%s", detail);
}

/* What the state says now: the cause (NONE while enforced) and its detail. */
static enum timeline_cause status(const struct timeline *tl, const char **detail)
{
	*detail = tl->off_detail;
	if (!tl->known)
		return TL_CAUSE_UNKNOWN;
	if (!tl->running)
		return TL_CAUSE_AGENT_NOT_RUNNING;
	if (tl->enforcing) {
		*detail = tl->drift ? tl->drift_detail : tl->fallback ? tl->fallback_detail : "";
		return tl->drift ? TL_CAUSE_DRIFT : tl->fallback ? TL_CAUSE_CONFIG_FALLBACK : TL_CAUSE_NONE;
	}
	if (tl->off_cause == TL_CAUSE_RULES_MISSING && strcmp(tl->mode, "enforce") == 0)
		return TL_CAUSE_RULES_MISSING;
	if (strcmp(tl->mode, "monitor") == 0) {
		*detail = "mode = monitor: inbound DNS observed, not refused";
		return TL_CAUSE_MODE_MONITOR;
	}
	if (strcmp(tl->mode, "auto") == 0) {
		*detail = "mode = auto: waiting for a public listener or an outside query";
		return TL_CAUSE_AUTO_WAITING;
	}
	return tl->off_cause;
}

static void transition(struct timeline *tl, int64_t t)
{
	const char *detail;
	enum timeline_cause c = status(tl, &detail);

	if (c == tl->seg_cause && strcmp(detail, tl->seg_detail) == 0)
		return;
	open_segment(tl, t, c, detail);
}

/* ---- boots, runs and holes ---- */

static int64_t hole_threshold(const struct timeline *tl)
{
	int64_t iv = tl->interval_us ? tl->interval_us : DEFAULT_INTERVAL_US;

	return 2 * iv + HOLE_SLACK_US;
}

static void close_listeners(struct timeline *tl)
{
	for (size_t i = 0; i < tl->n_listeners; i++)
		if (tl->listeners[i].open) {
			tl->listeners[i].open = false;
			if (tl->listeners[i].last_us < tl->last_us)
				tl->listeners[i].last_us = tl->last_us;
		}
}

/* A boot id is 32 hex digits (sd_id128); anything else a journal file
 * holds becomes '?', so the outputs print it as it is. */
static void copy_boot_id(char dst[33], const char *src)
{
	size_t i;

	for (i = 0; i < 32 && src[i]; i++)
		dst[i] = isxdigit((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

static struct timeline_boot *current_boot(struct timeline *tl)
{
	return tl->n_boots ? &tl->boots[tl->n_boots - 1] : NULL;
}

static void new_boot(struct timeline *tl, const struct timeline_event *ev)
{
	int64_t bs = ev->boot_start_us > 0 ? ev->boot_start_us : ev->t_us;
	bool first = tl->boot_id[0] == '\0';
	struct timeline_boot *b;

	if (bs > ev->t_us)
		bs = ev->t_us;
	if (!first && tl->known && tl->running) {
		/* The previous boot's entries end while the agent ran. */
		open_segment(tl, tl->last_us, TL_CAUSE_UNKNOWN, "");
		set_detail(tl->seg_detail, "boot %.12s ended without agent_stopped (crash, power loss or lost entries)",
			   tl->boot_id);
	}
	close_listeners(tl);
	copy_boot_id(tl->boot_id, ev->boot_id);
	/* The kernel's start is known; from there to the agent's first rules
	 * nothing refused. For the first boot read that holds only when the
	 * agent's first entry is its start. */
	if (!first || is(ev, "agent_started")) {
		tl->known = true;
		tl->running = tl->enforcing = tl->drift = tl->fallback = false;
		tl->off_cause = TL_CAUSE_AGENT_NOT_RUNNING;
		set_detail(tl->off_detail, "boot %.12s: from the kernel's start to the agent's first rules", ev->boot_id);
		transition(tl, bs);
	}
	b = grow(tl, (void **)&tl->boots, &tl->n_boots, TIMELINE_MAX_BOOTS, sizeof(*b));
	if (b) {
		memcpy(b->boot_id, tl->boot_id, sizeof(b->boot_id));
		b->start_us = bs;
		b->rules_after_us = -1;
		b->from_start = !first || is(ev, "agent_started");
	}
	tl->interval_us = 0;
	tl->interval_logged = false;
	tl->last_summary_us = 0;
}

/* No entries from a running agent for longer than two summaries: the span
 * after the last expected one is unknown. */
static void check_hole(struct timeline *tl, int64_t t)
{
	int64_t iv = tl->interval_us ? tl->interval_us : DEFAULT_INTERVAL_US;
	int64_t start;

	if (!tl->known || !tl->running || t - tl->last_us <= hole_threshold(tl))
		return;
	start = tl->last_us + iv;
	open_segment(tl, start, TL_CAUSE_UNKNOWN, "");
	set_detail(tl->seg_detail, "no entries from the running agent for %" PRId64 " s (journal rotated, vacuumed or entries lost)",
		   (t - tl->last_us) / USEC);
}

/* ---- lists ---- */

static void add_change(struct timeline *tl, const struct timeline_event *ev, const char *kind, const char *hash,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_change(struct timeline *tl, const struct timeline_event *ev, const char *kind, const char *hash,
		       const char *fmt, ...)
{
	struct timeline_change *c;
	va_list ap;

	if (ev->t_us < tl->since_us || ev->t_us >= tl->until_us)
		return;
	c = grow(tl, (void **)&tl->changes, &tl->n_changes, TIMELINE_MAX_CHANGES, sizeof(*c));
	if (!c) {
		tl->changes_omitted++;
		return;
	}
	c->t_us = ev->t_us;
	snprintf(c->kind, sizeof(c->kind), "%s", kind);
	snprintf(c->hash, sizeof(c->hash), "%s", hash ? hash : "");
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static void on_listener(struct timeline *tl, const struct timeline_event *ev, bool found)
{
	struct timeline_listener *l = NULL;
	char key[160];

	if (strncmp(fs(ev, TL_F_EXPOSURE), "public", 6) != 0)
		return;
	snprintf(key, sizeof(key), "%s %s %s %s", fs(ev, TL_F_PROTO), fs(ev, TL_F_ADDR), fs(ev, TL_F_PORT),
		 fs(ev, TL_F_NETNS));
	for (size_t i = 0; i < tl->n_listeners && !l; i++)
		if (strcmp(tl->listeners[i].key, key) == 0)
			l = &tl->listeners[i];
	if (!l) {
		if (!found)
			return;
		l = grow(tl, (void **)&tl->listeners, &tl->n_listeners, TIMELINE_MAX_LISTENERS, sizeof(*l));
		if (!l)
			return;
		snprintf(l->key, sizeof(l->key), "%s", key);
		snprintf(l->proto, sizeof(l->proto), "%s", fs(ev, TL_F_PROTO));
		snprintf(l->addr, sizeof(l->addr), "%s", fs(ev, TL_F_ADDR));
		snprintf(l->port, sizeof(l->port), "%s", fs(ev, TL_F_PORT));
		l->first_us = ev->t_us;
	}
	if (found) {
		snprintf(l->exposure, sizeof(l->exposure), "%s", fs(ev, TL_F_EXPOSURE));
		set_detail(l->owner, "%s (pid %s%s%s%s%s)", ev->f[TL_F_COMM] ? ev->f[TL_F_COMM] : "unknown",
			   ev->f[TL_F_PID] ? ev->f[TL_F_PID] : "-",
			   ev->f[TL_F_UNIT] && *ev->f[TL_F_UNIT] && strcmp(ev->f[TL_F_UNIT], "-") ? ", unit " : "",
			   ev->f[TL_F_UNIT] && *ev->f[TL_F_UNIT] && strcmp(ev->f[TL_F_UNIT], "-") ? ev->f[TL_F_UNIT] : "",
			   ev->f[TL_F_CONTAINER] && *ev->f[TL_F_CONTAINER] && strcmp(ev->f[TL_F_CONTAINER], "-")
				   ? ", container " : "",
			   ev->f[TL_F_CONTAINER] && *ev->f[TL_F_CONTAINER] && strcmp(ev->f[TL_F_CONTAINER], "-")
				   ? ev->f[TL_F_CONTAINER] : "");
	}
	l->open = found;
	l->last_us = ev->t_us;
}

static void on_recursion(struct timeline *tl, const struct timeline_event *ev)
{
	struct timeline_recursion *r;

	if (ev->t_us < tl->since_us || ev->t_us >= tl->until_us)
		return;
	r = grow(tl, (void **)&tl->recursion, &tl->n_recursion, TIMELINE_MAX_RECURSION, sizeof(*r));
	if (!r) {
		tl->recursion_omitted++;
		return;
	}
	r->t_us = ev->t_us;
	snprintf(r->querier, sizeof(r->querier), "%s", fs(ev, TL_F_QUERIER));
	snprintf(r->server, sizeof(r->server), "%s", fs(ev, TL_F_SERVER));
	snprintf(r->qname, sizeof(r->qname), "%s", fs(ev, TL_F_QNAME));
	snprintf(r->qtype, sizeof(r->qtype), "%s", fs(ev, TL_F_QTYPE));
}

static int64_t day_of(int64_t t_us)
{
	int64_t s = t_us / USEC;

	return (s >= 0 ? s : s - 86399) / 86400;
}

/* The summary's counters are totals since the agent's start (queries) and
 * since the table was last replaced (drops): a value lower than the last
 * one means a new count began at zero. */
static void on_summary_counts(struct timeline *tl, const struct timeline_event *ev)
{
	uint64_t q = to_u64(ev->f[TL_F_QUERIES]);
	uint64_t d = to_u64(ev->f[TL_F_DROPPED_UDP]) + to_u64(ev->f[TL_F_DROPPED_TCP]);
	uint64_t dq = q >= tl->prev_queries ? q - tl->prev_queries : q;
	uint64_t dd = d >= tl->prev_dropped ? d - tl->prev_dropped : d;
	struct timeline_day *day = NULL;
	int64_t dn = day_of(ev->t_us);

	tl->prev_queries = q;
	tl->prev_dropped = d;
	if (ev->t_us < tl->since_us || ev->t_us >= tl->until_us)
		return;
	tl->inbound_total += dq;
	tl->refused_total += dd;
	if (tl->n_days && tl->days[tl->n_days - 1].day == dn)
		day = &tl->days[tl->n_days - 1];
	else if (!tl->n_days || tl->days[tl->n_days - 1].day < dn)
		day = grow(tl, (void **)&tl->days, &tl->n_days, TIMELINE_MAX_DAYS, sizeof(*day));
	if (!day)
		return;
	day->day = dn;
	day->inbound += dq;
	day->refused += dd;
}

static void on_summary(struct timeline *tl, const struct timeline_event *ev)
{
	int64_t d = tl->last_summary_us ? ev->t_us - tl->last_summary_us : 0;

	if (d > 0 && !tl->interval_logged && (!tl->interval_us || d <= hole_threshold(tl)))
		tl->interval_us = d;
	tl->last_summary_us = ev->t_us;
	if (!tl->running || !tl->known) {
		tl->known = tl->running = true;
		tl->applied_in_run = true;
	}
	if (ev->f[TL_F_MODE])
		snprintf(tl->mode, sizeof(tl->mode), "%s", ev->f[TL_F_MODE]);
	if (ev->f[TL_F_ENFORCING]) {
		tl->enforcing = strcmp(ev->f[TL_F_ENFORCING], "yes") == 0;
		if (tl->enforcing)
			tl->applied_in_run = true;
		else if (tl->off_cause == TL_CAUSE_AGENT_NOT_RUNNING || tl->off_cause == TL_CAUSE_UNKNOWN) {
			tl->off_cause = TL_CAUSE_RULES_MISSING;
			set_detail(tl->off_detail, "summary: not enforcing (%s)", fs(ev, TL_F_REASON));
		}
	}
	on_summary_counts(tl, ev);
}

/* agent_started and config_reloaded carry summary_interval_s (older agents
 * do not: then the spacing of the summaries is measured). */
static void take_interval(struct timeline *tl, const struct timeline_event *ev)
{
	uint64_t s = to_u64(ev->f[TL_F_SUMMARY_INTERVAL_S]);

	if (s > 0 && s <= 86400) {
		tl->interval_us = (int64_t)s * USEC;
		tl->interval_logged = true;
	}
}

static void on_started(struct timeline *tl, const struct timeline_event *ev)
{
	if (tl->known && tl->running) {
		/* A second start with no stop between: the agent died. */
		open_segment(tl, tl->last_us, TL_CAUSE_UNKNOWN, "");
		set_detail(tl->seg_detail, "the agent restarted without agent_stopped (crash, SIGKILL or lost entries)");
	}
	close_listeners(tl);
	/* After a stop or a boot the outage goes on until the rules are in:
	 * it keeps the detail that says why it began. */
	if (!tl->known || tl->running || tl->off_cause != TL_CAUSE_AGENT_NOT_RUNNING)
		set_detail(tl->off_detail, "agent starting (pid %s)", ev->f[TL_F_PID] ? ev->f[TL_F_PID] : "-");
	tl->known = tl->running = true;
	tl->enforcing = tl->drift = tl->fallback = tl->applied_in_run = false;
	snprintf(tl->mode, sizeof(tl->mode), "%s", fs(ev, TL_F_MODE));
	tl->off_cause = TL_CAUSE_AGENT_NOT_RUNNING;
	tl->prev_queries = 0;
	tl->interval_us = 0;
	tl->interval_logged = false;
	tl->last_summary_us = 0;
	take_interval(tl, ev);
	add_change(tl, ev, "agent_started", NULL, "version %s, mode %s", fs(ev, TL_F_VERSION), fs(ev, TL_F_MODE));
}

static const char *first_hash(const struct timeline_event *ev)
{
	if (ev->f[TL_F_HASH])
		return ev->f[TL_F_HASH];
	if (ev->f[TL_F_CONFIG_SHA256])
		return ev->f[TL_F_CONFIG_SHA256];
	return ev->f[TL_F_POLICY_SHA256];
}

static void apply_event(struct timeline *tl, const struct timeline_event *ev)
{
	struct timeline_boot *b;

	if (is(ev, "agent_started")) {
		on_started(tl, ev);
	} else if (is(ev, "agent_stopped")) {
		tl->running = tl->enforcing = tl->drift = false;
		tl->off_cause = TL_CAUSE_AGENT_NOT_RUNNING;
		if (!strstr(tl->off_detail, "agent stopped"))
			set_detail(tl->off_detail, "agent stopped (exit status %s)", fs(ev, TL_F_EXIT_STATUS));
		tl->last_us = ev->t_us;
		close_listeners(tl);
	} else if (is(ev, "agent_stopping")) {
		set_detail(tl->off_detail, "agent stopped (%s)", fs(ev, TL_F_SIGNAL));
	} else if (is(ev, "rules_applied")) {
		tl->known = tl->running = true;
		tl->enforcing = tl->applied_in_run = true;
		tl->drift = false;
		b = current_boot(tl);
		if (b && b->from_start && b->rules_after_us < 0 && strcmp(b->boot_id, tl->boot_id) == 0)
			b->rules_after_us = ev->t_us - b->start_us;
	} else if (is(ev, "rules_apply_failed")) {
		if (!tl->enforcing) {
			tl->off_cause = TL_CAUSE_RULES_MISSING;
			set_detail(tl->off_detail, "rules_apply_failed: %s", fs(ev, TL_F_ERROR));
		}
	} else if (is(ev, "rules_removed")) {
		tl->enforcing = tl->drift = false;
		tl->off_cause = TL_CAUSE_RULES_REMOVED;
		set_detail(tl->off_detail, "%s", fs(ev, TL_F_REASON));
	} else if (is(ev, "rules_drift")) {
		if (tl->enforcing && !tl->drift) {
			tl->drift = true;
			if (ev->f[TL_F_PID])
				set_detail(tl->drift_detail, "pid %s (%s): %s", ev->f[TL_F_PID], fs(ev, TL_F_COMM),
					   fs(ev, TL_F_CHANGE));
			else
				set_detail(tl->drift_detail, "found by %s: %s", fs(ev, TL_F_FOUND_BY),
					   fs(ev, TL_F_CHANGE));
		}
	} else if (is(ev, "rules_restored")) {
		tl->drift = false;
	} else if (is(ev, "rules_fallback")) {
		tl->fallback = true;
		set_detail(tl->fallback_detail, "rules in force: %s (%s)", fs(ev, TL_F_RULES), fs(ev, TL_F_REASON));
		add_change(tl, ev, "rules_fallback", first_hash(ev), "rules in force: %s (%s)", fs(ev, TL_F_RULES),
			   fs(ev, TL_F_REASON));
	} else if (is(ev, "rules_fallback_ended")) {
		tl->fallback = false;
		add_change(tl, ev, "rules_fallback_ended", NULL, "%s", fs(ev, TL_F_REASON));
	} else if (is(ev, "config_reloaded")) {
		tl->fallback = false;
		take_interval(tl, ev);
		if (ev->f[TL_F_MODE])
			snprintf(tl->mode, sizeof(tl->mode), "%s", ev->f[TL_F_MODE]);
		add_change(tl, ev, "config_reloaded", first_hash(ev), "mode %s, %s files", fs(ev, TL_F_MODE),
			   fs(ev, TL_F_FILES));
	} else if (is(ev, "config_invalid")) {
		add_change(tl, ev, "config_invalid", NULL, "%s:%s %s: %s", fs(ev, TL_F_FILE), fs(ev, TL_F_LINE),
			   fs(ev, TL_F_KEY), fs(ev, TL_F_ERROR));
	} else if (is(ev, "config_kept")) {
		add_change(tl, ev, "config_kept", NULL, "%s", fs(ev, TL_F_REASON));
	} else if (is(ev, "policy_loaded")) {
		add_change(tl, ev, "policy_loaded", first_hash(ev), "%s: %s rules%s%s", fs(ev, TL_F_FILE),
			   fs(ev, TL_F_RULES), ev->f[TL_F_VERSION] ? ", version " : "", fs(ev, TL_F_VERSION));
	} else if (is(ev, "enforcement_started")) {
		add_change(tl, ev, "enforcement_started", NULL, "%s (%s)", fs(ev, TL_F_REASON), fs(ev, TL_F_TRIGGER));
	} else if (is(ev, "summary")) {
		on_summary(tl, ev);
	} else if (is(ev, "listener_found") || is(ev, "listener_gone")) {
		on_listener(tl, ev, is(ev, "listener_found"));
	} else if (is(ev, "recursion_offered")) {
		on_recursion(tl, ev);
	}
}

int timeline_add(struct timeline *tl, const struct timeline_event *ev)
{
	char id[33];

	if (!ev->event || tl->finished)
		return 0;
	tl->events++;
	if (ev->boot_id && *ev->boot_id)
		copy_boot_id(id, ev->boot_id);
	if (ev->boot_id && *ev->boot_id && strcmp(id, tl->boot_id) != 0)
		new_boot(tl, ev);
	else
		check_hole(tl, ev->t_us);
	apply_event(tl, ev);
	if (tl->running)
		tl->last_us = ev->t_us;
	transition(tl, ev->t_us);
	return tl->nomem ? -ENOMEM : 0;
}

int timeline_finish(struct timeline *tl)
{
	size_t k = 0;

	if (tl->finished)
		return tl->nomem ? -ENOMEM : 0;
	check_hole(tl, tl->until_us);
	close_segment(tl, tl->until_us);
	tl->finished = true;
	/* Listeners that ended before the window are not part of it. */
	for (size_t i = 0; i < tl->n_listeners; i++)
		if (tl->listeners[i].open || tl->listeners[i].last_us >= tl->since_us)
			tl->listeners[k++] = tl->listeners[i];
	tl->n_listeners = k;
	return tl->nomem ? -ENOMEM : 0;
}

void timeline_free(struct timeline *tl)
{
	free(tl->gaps);
	free(tl->boots);
	free(tl->changes);
	free(tl->listeners);
	free(tl->recursion);
	free(tl->days);
	tl->gaps = NULL;
	tl->boots = NULL;
	tl->changes = NULL;
	tl->listeners = NULL;
	tl->recursion = NULL;
	tl->days = NULL;
}

double timeline_ratio(const struct timeline *tl)
{
	int64_t w = tl->until_us - tl->since_us;

	return w > 0 ? (double)tl->enforced_us / (double)w : 0.0;
}

/* ---- times ---- */

static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

static int parse_iso(const char *s, int64_t *ret_us)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om, sign;
	int64_t us = 0, off = 0;
	time_t t;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
		return -EINVAL;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
			return -EINVAL;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &sec))
				return -EINVAL;
			if (*s == '.') {
				int64_t scale = 100000;

				for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
					us += scale * (*s - '0');
			}
		}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh))
			return -EINVAL;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_us = ((int64_t)t - off) * USEC + us;
	return 0;
}

int timeline_parse_when(const char *s, int64_t now_us, int64_t boot_us, int64_t *ret_us)
{
	char *end;
	long long n;
	int64_t unit;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "now") == 0) {
		*ret_us = now_us;
		return 0;
	}
	if (strcmp(s, "boot") == 0) {
		if (boot_us < 0)
			return -EINVAL;
		*ret_us = boot_us;
		return 0;
	}
	if (s[0] == '-') {
		if (!isdigit((unsigned char)s[1]))
			return -EINVAL;
		errno = 0;
		n = strtoll(s + 1, &end, 10);
		if (errno || end[0] == '\0' || end[1] != '\0' || n > 100LL * 366 * 86400)
			return -EINVAL;
		switch (*end) {
		case 'd': unit = 86400 * USEC; break;
		case 'h': unit = 3600 * USEC; break;
		case 'm': unit = 60 * USEC; break;
		case 's': unit = USEC; break;
		default: return -EINVAL;
		}
		if (n > INT64_MAX / unit)
			return -EINVAL;
		*ret_us = now_us - n * unit;
		return 0;
	}
	return parse_iso(s, ret_us);
}

void timeline_format_time(int64_t t_us, char *buf, size_t len)
{
	time_t t = (time_t)(t_us >= 0 ? t_us / USEC : (t_us - (USEC - 1)) / USEC);
	int ms = (int)((t_us - (int64_t)t * USEC) / 1000);
	struct tm tm;
	char date[32];

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", date, ms);
}
