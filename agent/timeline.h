/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The enforcement timeline, rebuilt from the agent's events: which part of a
 * window the refuse rule was in force, and every gap with its cause. Pure:
 * events go in one at a time (in journal order), the result comes out; no
 * I/O, so the unit tests drive it with synthetic sequences. Memory stays
 * bounded whatever the number of events: only gaps, boots, changes,
 * listeners and days are kept, each list with a cap. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMELINE_DETAIL_MAX 240
#define TIMELINE_MAX_GAPS 20000
#define TIMELINE_MAX_CHANGES 5000
#define TIMELINE_MAX_BOOTS 5000
#define TIMELINE_MAX_LISTENERS 1000
#define TIMELINE_MAX_RECURSION 1000
#define TIMELINE_MAX_DAYS 3700

/* The fields of an event the timeline reads (PORT53GUARD_<NAME> in the
 * journal). */
enum timeline_field {
	TL_F_MODE,
	TL_F_ENFORCING,
	TL_F_REASON,
	TL_F_PID,
	TL_F_COMM,
	TL_F_CHANGE,
	TL_F_FOUND_BY,
	TL_F_CAUSE,
	TL_F_HASH,
	TL_F_CONFIG_SHA256,
	TL_F_POLICY_SHA256,
	TL_F_VERSION,
	TL_F_FILE,
	TL_F_FILES,
	TL_F_RULES,
	TL_F_LINE,
	TL_F_KEY,
	TL_F_ERROR,
	TL_F_QUERIES,
	TL_F_DROPPED_UDP,
	TL_F_DROPPED_TCP,
	TL_F_PROTO,
	TL_F_ADDR,
	TL_F_PORT,
	TL_F_EXPOSURE,
	TL_F_NETNS,
	TL_F_UNIT,
	TL_F_CONTAINER,
	TL_F_QUERIER,
	TL_F_SERVER,
	TL_F_QNAME,
	TL_F_QTYPE,
	TL_F_SIGNAL,
	TL_F_TRIGGER,
	TL_F_EXIT_STATUS,
	TL_F_SUMMARY_INTERVAL_S,
	_TL_F_MAX,
};

/* "mode", ... (the key as logged) and back; -1 for a field not read. */
const char *timeline_field_name(enum timeline_field f);
int timeline_field_from_key(const char *key, size_t len);

/* One event. Strings point into the caller's memory and are only read during
 * timeline_add(); a field that is absent is NULL. */
struct timeline_event {
	int64_t t_us;           /* wall clock, microseconds since the epoch */
	int64_t boot_start_us;  /* the kernel's start of this boot (wall clock), 0 unknown */
	const char *boot_id;    /* 32 hex digits, or NULL */
	const char *event;      /* the PORT53GUARD_EVENT name */
	const char *f[_TL_F_MAX];
};

enum timeline_cause {
	TL_CAUSE_NONE,          /* enforced */
	TL_CAUSE_AGENT_NOT_RUNNING,
	TL_CAUSE_RULES_REMOVED,
	TL_CAUSE_MODE_MONITOR,
	TL_CAUSE_DRIFT,
	TL_CAUSE_CONFIG_FALLBACK,
	TL_CAUSE_UNKNOWN,
	TL_CAUSE_RULES_MISSING,
	TL_CAUSE_AUTO_WAITING,
	_TL_CAUSE_MAX,
};

const char *timeline_cause_name(enum timeline_cause c);

struct timeline_gap {
	int64_t start_us, end_us;
	enum timeline_cause cause;
	char detail[TIMELINE_DETAIL_MAX];
};

struct timeline_boot {
	char boot_id[33];
	int64_t start_us;
	int64_t rules_after_us; /* kernel start to the first rules_applied; -1 none seen */
	bool from_start;        /* the boot was followed from the kernel's start */
};

struct timeline_change {
	int64_t t_us;
	char kind[32];
	char detail[TIMELINE_DETAIL_MAX];
	char hash[72];          /* empty when the event carries none */
};

struct timeline_listener {
	char key[160];          /* proto addr port netns: the identity */
	char proto[8], addr[64], port[8], exposure[48];
	char owner[TIMELINE_DETAIL_MAX];
	int64_t first_us, last_us;
	bool open;              /* still listed by the running agent */
};

struct timeline_recursion {
	int64_t t_us;
	char querier[64], server[64], qname[128], qtype[16];
};

struct timeline_day {
	int64_t day;            /* days since the epoch (UTC) */
	uint64_t inbound, refused;
};

struct timeline {
	int64_t since_us, until_us;

	/* results */
	int64_t enforced_us;
	struct timeline_gap *gaps;
	size_t n_gaps, gaps_omitted;
	struct timeline_boot *boots;
	size_t n_boots;
	struct timeline_change *changes;
	size_t n_changes, changes_omitted;
	struct timeline_listener *listeners;
	size_t n_listeners;
	struct timeline_recursion *recursion;
	size_t n_recursion, recursion_omitted;
	struct timeline_day *days;
	size_t n_days;
	uint64_t inbound_total, refused_total;
	uint64_t events;

	/* what the journal itself says; filled by the reader */
	int64_t journal_first_us, journal_last_us;

	/* the state machine */
	bool finished, known, running, enforcing, drift, fallback, applied_in_run;
	char mode[16];
	enum timeline_cause off_cause;
	char off_detail[TIMELINE_DETAIL_MAX];
	char drift_detail[TIMELINE_DETAIL_MAX];
	char fallback_detail[TIMELINE_DETAIL_MAX];
	char boot_id[33];
	int64_t last_us;        /* the last event of the current agent run */
	int64_t last_summary_us;
	int64_t interval_us;    /* the summary interval, for hole detection */
	bool interval_logged;   /* interval_us is the agent's own (summary_interval_s) */
	uint64_t prev_queries, prev_dropped;
	/* the open segment */
	int64_t seg_start_us;
	enum timeline_cause seg_cause;
	char seg_detail[TIMELINE_DETAIL_MAX];
	int nomem;
};

/* A window [since, until). Events before since may be added to set the
 * state at the window's start; they count for nothing else. */
void timeline_init(struct timeline *tl, int64_t since_us, int64_t until_us);
/* Returns -ENOMEM when a list could not grow (the result is then partial
 * and timeline_finish says so). Events must come in time order. */
int timeline_add(struct timeline *tl, const struct timeline_event *ev);
/* Closes the last segment at until. Returns -ENOMEM if any list was cut. */
int timeline_finish(struct timeline *tl);
void timeline_free(struct timeline *tl);

/* coverage ratio in [0, 1]; 0 for an empty window */
double timeline_ratio(const struct timeline *tl);

/* WHEN: ISO 8601 ("2026-12-01", "2026-12-01T10:00:00Z", "...+08:00",
 * without an offset UTC), relative ("-30d", "-12h", "-10m", "-30s") or
 * "now". "boot" is the caller's ("boot_us", < 0 when unknown). Returns
 * -EINVAL for anything else. */
int timeline_parse_when(const char *s, int64_t now_us, int64_t boot_us, int64_t *ret_us);

/* RFC 3339 UTC with milliseconds: "2026-12-01T10:00:00.000Z". */
void timeline_format_time(int64_t t_us, char *buf, size_t len);
