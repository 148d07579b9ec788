/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "verdict.h"
#include "state.h"

struct nft_handle;
struct ruleset;
struct monitor;
struct listener_set;
struct capture;
struct traffic;
struct links;
struct policywatch;
struct scanhelper;

#define DAEMON_TABLE "port53guard"
#define DAEMON_MAX_CAPTURE_FDS 64

/* The agent's whole state. One instance, owned by daemon_main(); the
 * enforce_, observe_ and report_ parts each own the fields in their block. */
struct daemon {
	const char *config_path;
	struct config *config;
	int epfd, sigfd, tickfd;
	struct policywatch *policywatch;        /* the policy file's directory (policywatch.c) */
	bool stop;
	uint64_t watchdog_usec;
	uint64_t next_watchdog_ms;
	uint64_t start_mono_ms;
	time_t start_wall;
	uint64_t now_ms;                        /* monotonic, updated each loop turn */

	/* enforce: rules, drift repair */
	struct nft_handle *nft;
	struct links *links;                    /* interfaces and local addresses (enforce opens it) */
	struct monitor *monitor;
	struct ruleset *ruleset;
	unsigned table_flags;                   /* NFT_TABLE_F_* used for our table */
	bool enforcing;
	char enforce_reason[96];
	char enforce_trigger[160];
	time_t verified_at;                     /* wall clock of the last good verify */
	uint64_t next_verify_ms;
	uint64_t next_ranges_ms;                /* next verify that reads the allow sets' elements */
	bool ranges_unsure;                     /* events lost or unreadable: read them next time */
	uint64_t repair_due_ms;                 /* 0: none pending */
	uint64_t drift_repairs;
	uint64_t drop_packets[2], drop_bytes[2];        /* [0] udp, [1] tcp */

	/* fail closed: persistent state and retries (enforce.c, daemon.c) */
	struct state_ns ns;                     /* names the lock and the state files */
	struct config_sources sources;          /* the files d->config was read from */
	char *policy_text, *pending_policy_text; /* policy bytes in force / of the last rebuild */
	size_t policy_len, pending_policy_len;
	char config_error[256];                 /* why the configuration at start was unusable */
	bool mode_forced;                       /* a fallback overrode d->config->mode ... */
	enum agent_mode configured_mode;        /* ... which was this */
	struct state_lkg *lkg;                  /* loaded for a fallback, else NULL */
	char lkg_saved[2 * STATE_SHA256_HEX];   /* hashes of what was last saved */
	int apply_error;                        /* last failed apply (negative errno), 0: none */
	uint64_t retry_delay_ms;

	/* observe: listeners and capture */
	struct listener_set *listeners;
	struct scanhelper *scanhelper;          /* daemon starts and stops it; observe asks it to scan */
	uint64_t next_rescan_ms;
	time_t listeners_scanned_at;            /* last successful scan (the start until then) */
	unsigned listeners_public, listeners_local, listeners_bridge, listeners_namespaced;
	struct capture *capture;
	struct traffic *traffic;
	bool capture_degraded;
	char capture_error[256];
	uint64_t queries_seen, queries_answered, queries_unanswered, queries_allowed;
	uint64_t capture_received, capture_drops, capture_ifdrops;
	uint64_t capture_drops_reported;
	struct {
		char source[56];
		uint64_t queries;
	} top_sources[10];
	size_t n_top_sources;
	uint64_t sources_suppressed;

	/* Facts the compliance verdict reads; each has one writer. */
	bool config_fallback;                   /* enforce: the rules in force are not the configured ones */
	char fallback_reason[192];              /* enforce: which rules are in force and why */
	unsigned listeners_unfiltered;          /* observe: public listeners out of the host rule's reach */
	time_t recursion_offered_last;          /* observe: last recursive answer to an outside client, 0: none */
	char capture_missing[256];              /* observe: capture interfaces that could not be opened */
	bool policy_public_dns;                 /* enforce: the cloud policy accepts DNS from everybody */
	time_t enforcing_since;                 /* enforce: wall clock the rules last went in, 0: not enforcing */
	bool config_reload_ok;                  /* daemon: the last reload's outcome (true before any) */
	time_t config_reload_at;                /* daemon: wall clock of the last reload, or of the start */

	/* report: summary, status and metrics files */
	uint64_t next_summary_ms;
	uint64_t next_status_ms;
	bool status_write_failing, metrics_write_failing;
	struct verdict verdict;                 /* the last computed; since kept across recomputations */
	bool verdict_valid;
};

/* `port53guard run`: returns the process exit code. */
int daemon_main(const char *config_path);

uint64_t daemon_now_ms(void);

/* Reads the configuration and the policy again (SIGHUP); an invalid one
 * keeps what is in force. */
void daemon_reload(struct daemon *d);

/* enforce.c: the rules, the drift watch and the mode decisions. Each logs
 * its own events; a negative return from open/initial is fatal at start. */
/* At start, when the configuration cannot be used: d->config becomes the
 * last known good one (forced to enforce) or the built-in defaults. */
int enforce_fallback_config(struct daemon *d);
/* The configured rules were built again (a valid reload, or a policy file
 * read again): the fallback is over. Call before enforce_replace_ruleset. */
void enforce_fallback_end(struct daemon *d);
int enforce_open(struct daemon *d);
int enforce_initial(struct daemon *d);
int enforce_monitor_fd(const struct daemon *d);
int enforce_links_fd(const struct daemon *d);
void enforce_on_links(struct daemon *d);
void enforce_close(struct daemon *d);
int enforce_rebuild(struct daemon *d, const struct config *c, struct ruleset **ret);
void enforce_replace_ruleset(struct daemon *d, struct ruleset *rs);
void enforce_start(struct daemon *d, const char *reason, const char *trigger);
void enforce_stop(struct daemon *d);
void enforce_on_events(struct daemon *d);
void enforce_tick(struct daemon *d);

/* observe.c: listeners and capture; failures degrade, never stop the agent. */
void observe_open(struct daemon *d);
void observe_initial(struct daemon *d);
void observe_reconfigure(struct daemon *d);
void observe_close(struct daemon *d);
void observe_on_fd(struct daemon *d, int fd);
void observe_tick(struct daemon *d);
void observe_summary(struct daemon *d);
/* Copies traffic and capture totals into d: only when they are reported. */
void observe_update_counters(struct daemon *d);

/* report.c (see report.h) */
void report_tick(struct daemon *d);
void report_write_now(struct daemon *d);
void report_summary(struct daemon *d);
