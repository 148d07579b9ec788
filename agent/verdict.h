/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The compliance verdict: one place that decides whether the host keeps
 * inbound DNS refused like the cloud rule. Pure: the caller gathers the
 * facts into struct verdict_inputs (from the agent's state, the status
 * file or a scan), verdict_compute() maps them to findings and a state,
 * so unit tests drive every finding directly. status, metrics, the summary
 * event, scan and the report all read the same struct verdict.
 *
 * Severity: a finding that means outside clients can get DNS answers (or
 * nothing keeps the rules in place) makes the host not_compliant; one that
 * weakens the guarantee or its evidence makes it at_risk.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cidr.h"
#include "config.h"

enum verdict_state {
	VERDICT_COMPLIANT,
	VERDICT_AT_RISK,
	VERDICT_NOT_COMPLIANT,
};

/* Stable codes: their names are an interface (JSON, metrics, events). */
enum verdict_code {
	VERDICT_RULES_MISSING,
	VERDICT_RULES_UNVERIFIED,
	VERDICT_MODE_MONITOR,
	VERDICT_CONFIG_FALLBACK,
	VERDICT_ALLOW_EVERYTHING,
	VERDICT_ALLOW_BROAD,
	VERDICT_EXEMPT_UPLINK,
	VERDICT_TCP53_PUBLIC,
	VERDICT_LISTENER_UNFILTERED,
	VERDICT_POLICY_ALLOWS_PUBLIC_DNS,
	VERDICT_RECURSION_OFFERED,
	VERDICT_CAPTURE_DEGRADED,
	VERDICT_AGENT_NOT_RUNNING,
	VERDICT_LISTENER_SCAN_STALE,
	_VERDICT_CODE_MAX,
};

/* The shortest allow prefixes that are not "broad". */
#define VERDICT_BROAD_PREFIX4 8
#define VERDICT_BROAD_PREFIX6 32
/* Rules last verified longer ago than this are unverified: the agent
 * verifies every 5 s, so this is several missed verifications. */
#define VERDICT_VERIFY_MAX_AGE_S 30

struct verdict_inputs {
	time_t now;                     /* wall clock: since and the age checks */
	bool agent_known;               /* false: the agent's facts below are unknown (scan) */
	bool agent_running;

	enum agent_mode mode;
	bool should_enforce;            /* the mode says the rules belong in the kernel now */
	bool enforcing;                 /* the refuse rules are in the kernel */
	time_t verified_at;             /* last good verification, 0: never */
	bool config_fallback;
	const char *fallback_reason;    /* NULL or "" when none given */

	unsigned protocols;             /* CONFIG_PROTO_* refused */
	const struct cidr *allow;
	size_t n_allow;
	char *const *exempt;            /* interface names, "X*" a prefix */
	size_t n_exempt;
	char *const *uplinks;           /* interfaces that carry a default route */
	size_t n_uplinks;

	unsigned tcp53_public;          /* public TCP:53 listeners in the agent's namespace */
	unsigned listeners_unfiltered;
	bool policy_public_dns;         /* the cloud policy accepts DNS from everybody */
	time_t recursion_offered_last;  /* 0: never */
	unsigned recursion_window_s;    /* the summary interval */
	bool capture_degraded;
	const char *capture_missing;    /* interfaces that could not be opened, NULL or "" */
	/* The listener scan: when it last succeeded (or the agent started),
	 * and how old that may be; 0: not checked (scan, status from a file
	 * without it). */
	time_t listeners_scanned_at;
	unsigned listeners_max_age_s;
};

/* Added to two rescan intervals before listener_scan_stale: a scan may
 * take up to 10 s. */
#define LISTENERS_SCAN_GRACE_S 15

#define VERDICT_MESSAGE_MAX 256

struct verdict_finding {
	bool active;
	time_t since;                   /* when it became active, kept while it stays */
	char message[VERDICT_MESSAGE_MAX];
};

struct verdict {
	enum verdict_state state;
	time_t computed_at;
	struct verdict_finding findings[_VERDICT_CODE_MAX];   /* by code */
};

/* Computes *out from in. prev (may be NULL, or out itself) supplies the
 * since of findings that were already active. */
void verdict_compute(const struct verdict_inputs *in, const struct verdict *prev, struct verdict *out);

/* The state a finding of this code puts the host in. */
enum verdict_state verdict_code_severity(enum verdict_code c);

const char *verdict_code_name(enum verdict_code c);
/* -EINVAL for an unknown name. */
int verdict_code_from_name(const char *name, enum verdict_code *ret);
const char *verdict_state_name(enum verdict_state s);
int verdict_state_from_name(const char *name, enum verdict_state *ret);

/* Space-separated active codes ("" when none) into buf. */
char *verdict_codes_text(const struct verdict *v, char *buf, size_t len);

/* Whether the exempt pattern ("eth0", "e*") names ifname. */
bool verdict_ifname_matches(const char *pattern, const char *ifname);

/* {"state": ..., "computed_at": ..., "findings": [{code, severity,
 * message, since}, ...]} with since as RFC 3339 UTC and since_unix. NULL on
 * ENOMEM. */
json_t *verdict_to_json(const struct verdict *v);
