/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "links.h"
#include "listeners.h"
#include "monitor.h"
#include "nft.h"
#include "report.h"
#include "ruleset.h"
#include "rulesconf.h"
#include "sgpolicy.h"

/* The live table is read back this often: counters for status and metrics,
 * and a structural check that catches what no event reported. */
#define VERIFY_INTERVAL_MS 5000u
/* The allow sets' elements are read back this often, and at the first
 * verification after the event socket lost events or failed. In between
 * the event socket is what watches them: any change to this table by
 * another process is seen there and repaired at once. */
#define RANGES_VERIFY_INTERVAL_MS 60000u
/* After a failed apply, retry after 1 s, doubling up to 30 s, while the
 * rules should be there. */
#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 30000u

int enforce_monitor_fd(const struct daemon *d)
{
	return d->monitor ? monitor_fd(d->monitor) : -1;
}

int enforce_links_fd(const struct daemon *d)
{
	return d->links ? links_fd(d->links) : -1;
}

/* links_internal() (the capture's per-packet question) answers as
 * [rules] internal_interfaces says, like the kernel's set. */
static void configure_links(struct daemon *d)
{
	static const enum links_select_mode modes[] = {
		[CONFIG_INTERNAL_AUTO] = LINKS_SELECT_AUTO,
		[CONFIG_INTERNAL_NONE] = LINKS_SELECT_NONE,
		[CONFIG_INTERNAL_LIST] = LINKS_SELECT_LIST,
	};
	int r;

	if (!d->links)
		return;
	r = links_configure(d->links, modes[d->config->internal_mode],
			    (const char *const *)d->config->internal_interfaces,
			    d->config->n_internal_interfaces, NULL);
	if (r < 0)
		log_warning("internal_interfaces_failed", LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "the capture keeps the previous selection"));
}

/* Without link events the internal set is filled once, from a dump now (or
 * left empty): containers and VMs started later are refused until a reload,
 * which is the safe side. */
static void open_links(struct daemon *d)
{
	struct listeners_iftable t = { 0 };
	int r = links_open(&d->links), r2;

	if (r == 0)
		return;
	d->links = NULL;
	r2 = listeners_iftable_dump(&t);
	if (r2 < 0)
		listeners_iftable_clear(&t);
	if (links_new_from_table(&t, &d->links) < 0)
		d->links = NULL;
	listeners_iftable_clear(&t);
	log_warning("links_unavailable", LOG_STR("error", strerror(-r)),
		    LOG_STR("effect", r2 < 0 ? "set internal stays empty: DNS from containers and VMs to "
				      "this host is refused"
				    : "set internal is filled once: interfaces added later are refused "
				      "until a reload"));
}

static const char *flags_text(unsigned flags)
{
	if ((flags & NFT_APPLY_OWNER) && (flags & NFT_APPLY_PERSIST))
		return "owner,persist";
	return flags & NFT_APPLY_OWNER ? "owner" : "none";
}

/* Ownership makes the kernel refuse every other process's change to the
 * table and makes "nft flush ruleset" skip it. Alone it would also delete
 * the table when the agent exits or is killed, so it is only used together
 * with persistence (Linux 6.9+), which keeps the table after the agent. */
static void choose_table_flags(struct daemon *d)
{
	char err[256] = "";
	unsigned supported = 0;
	int r;

	r = nft_table_flags_supported(d->nft, &supported, err, sizeof(err));
	d->table_flags = 0;
	if (r == 0 && (supported & NFT_APPLY_OWNER) && (supported & NFT_APPLY_PERSIST) && d->config->table_owner)
		d->table_flags = NFT_APPLY_OWNER | NFT_APPLY_PERSIST;
	if (r < 0) {
		log_warning("table_flags", LOG_STR("owner", "unknown"), LOG_STR("persist", "unknown"),
			    LOG_STR("used", "none"), LOG_STR("error", err[0] ? err : strerror(-r)),
			    LOG_STR("effect", "changes by others are detected and repaired"));
		return;
	}
	log_info("table_flags", LOG_STR("owner", supported & NFT_APPLY_OWNER ? "supported" : "unsupported"),
		 LOG_STR("persist", supported & NFT_APPLY_PERSIST ? "supported" : "unsupported"),
		 LOG_STR("used", flags_text(d->table_flags)),
		 LOG_STR("effect", d->table_flags ? "other processes cannot change or flush the table"
			 : "changes by others are detected and repaired"));
}

int enforce_open(struct daemon *d)
{
	int r;

	r = nft_open(&d->nft);
	if (r < 0) {
		log_error("agent_failed", LOG_STR("step", "netlink"), LOG_STR("error", strerror(-r)));
		return r;
	}
	/* Without the event socket drift is still found by the periodic
	 * verification, only later: degrade, do not stop. */
	r = monitor_open(NFPROTO_INET, RULESET_TABLE, &d->monitor);
	if (r < 0) {
		d->monitor = NULL;
		log_warning("drift_watch_unavailable", LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "changes are found by verification every 5 s instead"));
	} else if ((r = monitor_ignore_portid(d->monitor, nft_portid(d->nft))) < 0) {
		/* Our own events are skipped anyway; they only fill the buffer. */
		log_info("drift_watch_filter_unavailable", LOG_STR("error", strerror(-r)),
			 LOG_STR("effect", "large commits of our own may overflow the event socket (events_lost, then a resync)"));
	}
	open_links(d);
	configure_links(d);
	choose_table_flags(d);
	return 0;
}

void enforce_close(struct daemon *d)
{
	links_free(d->links);
	d->links = NULL;
	free(d->policy_text);
	free(d->pending_policy_text);
	d->policy_text = d->pending_policy_text = NULL;
	state_lkg_free(d->lkg);
	d->lkg = NULL;
	monitor_close(d->monitor);
	d->monitor = NULL;
	nft_close(d->nft);
	d->nft = NULL;
	ruleset_free(d->ruleset);
	d->ruleset = NULL;
}

/* The cloud policy's skipped entries and its policy_allows_public_dns
 * finding are logged with every start and reload that installs it. The
 * policy's bytes (given: a saved copy; NULL: read the file) are handed back
 * in *ret_text, for the last known good. */
static int build_with_policy_log(const struct config *c, const char *given, size_t given_len,
				 struct ruleset **ret, char **ret_text, size_t *ret_len, bool *ret_public_dns,
				 char *err, size_t len)
{
	struct rulesconf_policy *pol = NULL;
	int r = rulesconf_build_policy_from(c, given, given_len, ret, &pol, err, len);

	if (r == 0) {
		rulesconf_policy_log(c, pol);
		/* TCP counts only where it is refused here: otherwise an open
		 * TCP:53 is the tcp53_public finding's business. */
		*ret_public_dns = pol && (sgpolicy_mirror_public_dns(pol->mirror) ||
					  ((c->protocols & CONFIG_PROTO_TCP) &&
					   (pol->mirror->public_dns_tcp[0] != SGPOLICY_NONE ||
					    pol->mirror->public_dns_tcp[1] != SGPOLICY_NONE)));
		*ret_text = pol ? pol->text : NULL;
		*ret_len = pol ? pol->len : 0;
		if (pol)
			pol->text = NULL;
	}
	rulesconf_policy_free(pol);
	return r;
}

/* The internal set for configuration c from the interfaces as last seen. */
static int fill_internal(struct daemon *d, const struct config *c, struct ruleset *rs)
{
	static const struct listeners_iftable empty;
	char err[256] = "";
	int r = rulesconf_set_internal(c, d->links ? links_table(d->links) : &empty, rs, err, sizeof(err));

	if (r < 0)
		log_warning("internal_interfaces_failed", LOG_STR("error", err[0] ? err : strerror(-r)),
			    LOG_STR("effect", "set internal is left as it was"));
	return r;
}

int enforce_rebuild(struct daemon *d, const struct config *c, struct ruleset **ret)
{
	char err[512] = "", *text = NULL;
	size_t len = 0;
	int r;

	r = build_with_policy_log(c, NULL, 0, ret, &text, &len, &d->policy_public_dns, err, sizeof(err));
	if (r < 0) {
		log_error("rules_invalid", LOG_STR("error", err[0] ? err : strerror(-r)));
		return r;
	}
	(void)fill_internal(d, c, *ret);
	/* Committed by enforce_replace_ruleset with the ruleset it built. */
	free(d->pending_policy_text);
	d->pending_policy_text = text;
	d->pending_policy_len = len;
	return 0;
}

/* ---- fail closed: last known good, fallback, retries ---- */

static void commit_policy_text(struct daemon *d)
{
	free(d->policy_text);
	d->policy_text = d->pending_policy_text;
	d->policy_len = d->pending_policy_len;
	d->pending_policy_text = NULL;
	d->pending_policy_len = 0;
}

/* After an apply the kernel accepted: the inputs of the rules in force are
 * the last known good. Rules in force because of a fallback are not. */
static void save_lkg(struct daemon *d)
{
	struct state_lkg l = {
		.saved_at = time(NULL),
		.netns_cookie = d->ns.cookie,
		.config = d->sources,
		.policy_name = d->config->policy_file,
		.policy_text = d->policy_text,
		.policy_len = d->policy_len,
	};
	char sums[sizeof(d->lkg_saved)], csum[STATE_SHA256_HEX], psum[STATE_SHA256_HEX] = "";
	int r;

	if (d->config_fallback)
		return;
	if (!l.policy_text)
		l.policy_name = NULL;
	state_config_sha256(&d->sources, csum);
	if (l.policy_name)
		state_sha256_hex(l.policy_text, l.policy_len, psum);
	snprintf(sums, sizeof(sums), "%s%s", csum, psum);
	/* Repairs re-apply the same inputs: nothing new to keep. */
	if (strcmp(sums, d->lkg_saved) == 0)
		return;
	r = state_lkg_save(&d->ns, &l);
	if (r < 0) {
		log_warning("state_write_failed", LOG_STR("file", "last known good"), LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "a start with a broken configuration falls back to the built-in refuse"));
		return;
	}
	memcpy(d->lkg_saved, sums, sizeof(sums));
	log_debug("lkg_saved", LOG_STR("config_sha256", csum), LOG_STR("policy_sha256", psum));
}

/* snprintf for texts that are cut to fit on purpose (a reason in status). */
static void textf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void textf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int enforce_fallback_config(struct daemon *d)
{
	char err[512] = "";
	int r;

	r = state_lkg_load(&d->ns, &d->lkg, err, sizeof(err));
	if (r < 0 && r != -ENOENT)
		log_warning("state_invalid", LOG_STR("file", "last known good"), LOG_STR("error", err),
			    LOG_STR("effect", "not used"));
	if (r == 0) {
		struct config_error ce;

		r = config_from_sources(&d->lkg->config, &d->config, &ce);
		if (r < 0) {
			/* Saved by a version that read it differently. */
			log_warning("state_invalid", LOG_STR("file", "last known good"),
				    LOG_STR("error", ce.message), LOG_STR("effect", "not used"));
			state_lkg_free(d->lkg);
			d->lkg = NULL;
		}
	}
	if (!d->lkg) {
		d->config = config_new();
		if (!d->config)
			return -ENOMEM;
		free(d->config->status_file);
		d->config->status_file = state_fallback_status_file();
		if (!d->config->status_file)
			return -ENOMEM;
	}
	/* Whatever the saved configuration's mode was, a fallback enforces. */
	d->config->mode = AGENT_MODE_ENFORCE;
	d->config_fallback = true;
	return 0;
}

/* The rules when the configured ones cannot be had: the last known good
 * (loaded now if enforce_fallback_config did not), or the built-in refuse
 * (loopback accepted, UDP:53 refused). Logs rules_fallback with why. */
static int fallback_ruleset(struct daemon *d, const char *why, struct ruleset **ret)
{
	struct config *lc = NULL;
	struct config_error ce;
	char err[512] = "", when[32] = "", *text = NULL;
	size_t len = 0;
	int r = -ENOENT;

	if (!d->lkg && state_lkg_load(&d->ns, &d->lkg, err, sizeof(err)) < 0 && err[0])
		log_warning("state_invalid", LOG_STR("file", "last known good"), LOG_STR("error", err),
			    LOG_STR("effect", "not used"));
	if (d->lkg && config_from_sources(&d->lkg->config, &lc, &ce) == 0) {
		r = build_with_policy_log(lc, d->lkg->policy_text, d->lkg->policy_len, ret, &text, &len,
					  &d->policy_public_dns, err, sizeof(err));
		if (r == 0)
			(void)fill_internal(d, lc, *ret);
		free(text);
		config_free(lc);
	}
	d->config_fallback = true;
	if (r == 0) {
		iso_time(d->lkg->saved_at, when, sizeof(when));
		textf(d->fallback_reason, sizeof(d->fallback_reason), "last known good rules (saved %s): %s",
		      when, why);
		log_error("rules_fallback", LOG_STR("rules", "last_known_good"), LOG_STR("saved_at", when),
			  LOG_STR("config_sha256", d->lkg->config_sha256),
			  LOG_STR("policy_sha256", d->lkg->policy_sha256), LOG_STR("reason", why),
			  LOG_STR("effect", "the last rules the kernel accepted are enforced until a valid reload"));
		return 0;
	}
	lc = config_new();
	if (!lc)
		return -ENOMEM;
	r = rulesconf_build(lc, ret, err, sizeof(err));
	if (r == 0)
		(void)fill_internal(d, lc, *ret);
	config_free(lc);
	if (r < 0)
		return r;
	d->policy_public_dns = false;
	textf(d->fallback_reason, sizeof(d->fallback_reason),
	      "built-in refuse (UDP:53 refused, loopback accepted): %s", why);
	log_error("rules_fallback", LOG_STR("rules", "builtin"), LOG_STR("reason", why),
		  LOG_STR("effect", "UDP:53 is refused from everywhere but loopback until a valid reload"));
	return 0;
}

static bool auto_remembered(struct daemon *d);

void enforce_fallback_end(struct daemon *d)
{
	if (!d->config_fallback)
		return;
	d->config_fallback = false;
	d->fallback_reason[0] = '\0';
	state_lkg_free(d->lkg);
	d->lkg = NULL;
	if (d->mode_forced)
		d->config->mode = d->configured_mode;
	d->mode_forced = false;
	log_notice("rules_fallback_ended", LOG_STR("reason", "the configured rules could be built"));
	/* The fallback enforced: a configuration that says auto now decides
	 * the way a start does (a saved trigger, or the table in force). */
	if (d->config->mode == AGENT_MODE_AUTO && !d->enforce_trigger[0])
		(void)auto_remembered(d);
}

static void schedule_retry(struct daemon *d)
{
	d->retry_delay_ms = d->retry_delay_ms ? d->retry_delay_ms * 2 : RETRY_FIRST_MS;
	if (d->retry_delay_ms > RETRY_MAX_MS)
		d->retry_delay_ms = RETRY_MAX_MS;
	d->repair_due_ms = daemon_now_ms() + d->retry_delay_ms;
}

static size_t count_ranges(const struct ruleset *rs, enum ruleset_set_id id)
{
	return rs->sets[id].n_ranges;
}

enum table_change {
	TABLE_INSTALLED,        /* there was none */
	TABLE_REPLACED,
	TABLE_KEPT,             /* already d->ruleset with our flags and owner */
	TABLE_ADOPTED,          /* the same, once ownership was taken over */
};

static const char *const change_names[] = {
	[TABLE_INSTALLED] = "installed",
	[TABLE_REPLACED] = "replaced",
	[TABLE_KEPT] = "kept",
	[TABLE_ADOPTED] = "adopted",
};

/* Whether the live table can stay as it is: the comparison apply makes
 * (objects, set internal as now, table flags), plus ownership. With
 * owner,persist the table must be this socket's; an orphan (persist
 * without owner: its agent exited) is taken over in place, which the
 * kernel allows and which keeps the counters. A table of no flags cannot
 * be taken over (the kernel refuses to add persist), nor one another
 * live socket owns: those are replaced as before (the latter fails the
 * same way it always did). Anything unreadable: replaced. */
static enum table_change keep_table(struct daemon *d)
{
	struct nft_live *live = NULL;
	char diff[512] = "", err[256] = "";
	enum table_change c = TABLE_REPLACED;
	int r = nft_read(d->nft, &live, diff, sizeof(diff));
	unsigned have;

	if (r == -ENOENT)
		return TABLE_INSTALLED;
	if (r < 0 || nft_compare(live, d->ruleset, diff, sizeof(diff)) != 0 ||
	    nft_compare_internal(live, d->ruleset, diff, sizeof(diff)) != 0)
		goto out;
	have = nft_live_flags(live);
	if (!(d->table_flags & NFT_APPLY_OWNER)) {
		if (nft_compare_flags(live, d->table_flags, diff, sizeof(diff)) == 0)
			c = TABLE_KEPT;
	} else if (have == (NFT_APPLY_OWNER | NFT_APPLY_PERSIST)) {
		if (live->table_owner == nft_portid(d->nft))
			c = TABLE_KEPT;
	} else if (have == NFT_APPLY_PERSIST) {
		r = nft_adopt(d->nft, live->table_handle, err, sizeof(err));
		if (r == 0)
			c = TABLE_ADOPTED;
		else
			log_info("table_takeover_failed", LOG_STR("error", err[0] ? err : strerror(-r)),
				 LOG_STR("action", "replacing the table"));
	}
out:
	nft_live_free(live);
	return c;
}

/* Installs d->ruleset, or keeps the live table when it already is that
 * ruleset (counters are the record of what was refused: a start, reload
 * or repair that changes nothing keeps them); logs rules_applied or
 * rules_apply_failed. */
static int apply(struct daemon *d, const char *reason)
{
	char err[512] = "";
	uint64_t t0 = daemon_now_ms();
	enum table_change c = keep_table(d);
	int r = 0;

	if (c == TABLE_INSTALLED || c == TABLE_REPLACED)
		r = nft_apply(d->nft, d->ruleset, d->table_flags, err, sizeof(err));
	if (r < 0) {
		/* Retried with back-off; logged once per change of state, not
		 * at every retry. */
		if (r != d->apply_error)
			log_error("rules_apply_failed", LOG_STR("reason", reason),
				  LOG_STR("error", err[0] ? err : strerror(-r)),
				  LOG_STR("hint", r == -EPERM ? "another process owns the table" : ""),
				  LOG_STR("action", "retrying with back-off (1 s doubling to 30 s)"));
		d->apply_error = r;
		schedule_retry(d);
		return r;
	}
	if (!d->enforcing)
		d->enforcing_since = time(NULL);
	d->apply_error = 0;
	d->retry_delay_ms = 0;
	d->repair_due_ms = 0;
	d->enforcing = true;
	d->verified_at = time(NULL);
	d->next_verify_ms = daemon_now_ms() + VERIFY_INTERVAL_MS;
	log_info("rules_applied", LOG_STR("reason", reason), LOG_STR("table", "inet " RULESET_TABLE),
		 LOG_UINT("rules", d->ruleset->n_rules),
		 LOG_UINT("allow4_ranges", count_ranges(d->ruleset, RULESET_SET_ALLOW4)),
		 LOG_UINT("allow6_ranges", count_ranges(d->ruleset, RULESET_SET_ALLOW6)),
		 LOG_UINT("internal_interfaces", d->ruleset->n_internal),
		 LOG_STR("protocols", d->ruleset->protos & RULESET_PROTO_TCP ? "udp,tcp" : "udp"),
		 LOG_STR("table_flags", flags_text(d->table_flags)), LOG_STR("table_change", change_names[c]),
		 LOG_UINT("took_ms", daemon_now_ms() - t0));
	save_lkg(d);
	return 0;
}

static void remove_table(struct daemon *d, const char *reason)
{
	char err[256] = "";
	int r = nft_remove(d->nft, err, sizeof(err));

	if (r < 0) {
		log_error("rules_remove_failed", LOG_STR("reason", reason), LOG_STR("error", err[0] ? err : strerror(-r)));
		return;
	}
	/* Lifting rules that were in force leaves the host answering DNS: a
	 * warning, whatever the reason. */
	log_event(d->enforcing ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, "rules_removed", LOG_STR("reason", reason),
		  LOG_STR("table", "inet " RULESET_TABLE));
	d->enforcing = false;
	d->enforcing_since = 0;
}

/* Auto mode remembers: a trigger persisted by an earlier run (or a table
 * already in the kernel) enforces at once, so a restart, an upgrade or a
 * reboot never opens port 53. */
static bool auto_remembered(struct daemon *d)
{
	struct state_auto a;
	struct nft_live *live = NULL;
	char err[512] = "", when[32];
	int r = state_auto_load(&d->ns, &a, err, sizeof(err));

	if (r == 0) {
		iso_time(a.triggered_at, when, sizeof(when));
		snprintf(d->enforce_trigger, sizeof(d->enforce_trigger), "%s", a.source);
		textf(d->enforce_reason, sizeof(d->enforce_reason), "auto: %s (since %s)", a.reason, when);
		log_notice("enforcement_remembered", LOG_STR("reason", a.reason), LOG_STR("trigger", a.source),
			   LOG_STR("triggered_at", when), LOG_STR("cleared_by", "port53guard remove, or a mode other than auto"));
		return true;
	}
	if (r != -ENOENT)
		log_warning("state_invalid", LOG_STR("file", "auto trigger"), LOG_STR("error", err),
			    LOG_STR("effect", "the table in the kernel decides"));
	r = nft_read(d->nft, &live, err, sizeof(err));
	nft_live_free(live);
	if (r == -ENOENT)
		return false;
	/* A table is there (or cannot be read): keep refusing. */
	snprintf(d->enforce_trigger, sizeof(d->enforce_trigger), "table inet %s in the kernel at start", RULESET_TABLE);
	snprintf(d->enforce_reason, sizeof(d->enforce_reason), "auto: a port53guard table was in force at start");
	log_notice("enforcement_remembered", LOG_STR("reason", "a port53guard table was in the kernel at start"),
		   LOG_STR("trigger", d->enforce_trigger), LOG_STR("cleared_by", "port53guard remove"));
	return true;
}

static void forget_auto(struct daemon *d)
{
	int r = state_auto_clear(&d->ns);

	if (r < 0)
		log_warning("state_write_failed", LOG_STR("file", "auto trigger"), LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "auto mode may enforce at once when it is chosen again"));
}

int enforce_initial(struct daemon *d)
{
	int r = 0;

	if (!d->config_fallback)
		r = enforce_rebuild(d, d->config, &d->ruleset);
	if (r == 0 && !d->config_fallback) {
		commit_policy_text(d);
	} else {
		char why[256];

		snprintf(why, sizeof(why), "%s", d->config_fallback ? d->config_error : "the configured rules cannot be built");
		r = fallback_ruleset(d, why, &d->ruleset);
		if (r < 0) {
			log_error("agent_failed", LOG_STR("step", "rules"), LOG_STR("error", strerror(-r)));
			return r;
		}
		/* The configuration itself is valid: its mode comes back when
		 * the fallback ends without a new configuration (a policy
		 * file fixed and read again). */
		if (!d->mode_forced) {
			d->configured_mode = d->config->mode;
			d->mode_forced = true;
		}
		d->config->mode = AGENT_MODE_ENFORCE;
	}
	switch (d->config->mode) {
	case AGENT_MODE_ENFORCE:
		snprintf(d->enforce_reason, sizeof(d->enforce_reason), "%s",
			 d->config_fallback ? "fallback: the configured rules cannot be used" : "mode is enforce");
		if (!d->config_fallback)
			forget_auto(d);
		/* A refused first apply is retried from the loop. */
		(void)apply(d, "start");
		return 0;
	case AGENT_MODE_AUTO:
		if (auto_remembered(d)) {
			(void)apply(d, "start");
			return 0;
		}
		snprintf(d->enforce_reason, sizeof(d->enforce_reason),
			 "mode is auto: waiting for a public listener or an outside query");
		/* No table in the kernel: nothing to remove. */
		return 0;
	case AGENT_MODE_MONITOR:
		snprintf(d->enforce_reason, sizeof(d->enforce_reason), "mode is monitor: observing only");
		break;
	}
	forget_auto(d);
	/* A table left by an earlier enforcing run would refuse DNS while the
	 * status says otherwise: monitor mode starts without rules. */
	remove_table(d, d->enforce_reason);
	return 0;
}

void enforce_start(struct daemon *d, const char *reason, const char *trigger)
{
	uint64_t t0 = daemon_now_ms();

	struct state_auto a = { .triggered_at = time(NULL), .netns_cookie = d->ns.cookie };
	int r;

	snprintf(d->enforce_trigger, sizeof(d->enforce_trigger), "%s", trigger);
	snprintf(d->enforce_reason, sizeof(d->enforce_reason), "auto: %s", reason);
	if (apply(d, "auto") == 0)
		log_warning("enforcement_started", LOG_STR("reason", reason), LOG_STR("trigger", trigger),
			    LOG_UINT("took_ms", daemon_now_ms() - t0));
	/* Remembered across restarts and reboots, even while the apply is
	 * still being retried. */
	snprintf(a.reason, sizeof(a.reason), "%s", reason);
	snprintf(a.source, sizeof(a.source), "%s", trigger);
	r = state_auto_save(&d->ns, &a);
	if (r < 0)
		log_warning("state_write_failed", LOG_STR("file", "auto trigger"), LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "a restart waits for a new trigger"));
	report_write_now(d);
}

void enforce_replace_ruleset(struct daemon *d, struct ruleset *rs)
{
	bool should = report_should_enforce(d);

	ruleset_free(d->ruleset);
	d->ruleset = rs;
	configure_links(d);
	commit_policy_text(d);
	if (d->config->mode == AGENT_MODE_ENFORCE)
		snprintf(d->enforce_reason, sizeof(d->enforce_reason), "mode is enforce");
	/* An explicit change of mode is what ends auto mode's memory. */
	if (d->config->mode != AGENT_MODE_AUTO)
		forget_auto(d);
	if (should)
		apply(d, "reload");
	else if (d->enforcing)
		remove_table(d, "reload: the mode no longer enforces");
}

void enforce_stop(struct daemon *d)
{
	if (!d->nft || !d->enforcing)
		return;
	if (d->config->keep_on_stop) {
		log_notice("rules_kept", LOG_STR("table", "inet " RULESET_TABLE),
			   LOG_STR("reason", "keep_on_stop=yes: the policy outlives the agent"),
			   LOG_STR("lift_with", "port53guard remove"));
		return;
	}
	remove_table(d, "stop with keep_on_stop=no");
}

/* ---- drift ---- */

static void repair(struct daemon *d, const char *cause)
{
	uint64_t t0 = daemon_now_ms();

	if (apply(d, "repair") < 0) {
		d->enforcing = false;
	} else {
		d->drift_repairs++;
		log_notice("rules_restored", LOG_STR("cause", cause), LOG_UINT("took_ms", daemon_now_ms() - t0),
			   LOG_UINT("repairs", d->drift_repairs));
	}
	report_write_now(d);
}

struct drift_ctx {
	struct daemon *d;
	bool drifted;
};

static void on_change(const struct monitor_change *c, void *userdata)
{
	struct drift_ctx *x = userdata;
	char what[160];

	if (c->portid == nft_portid(x->d->nft))
		return;
	if (!report_should_enforce(x->d))
		return;
	monitor_describe(c->what, what, sizeof(what));
	log_warning("rules_drift", LOG_UINT("pid", c->pid), LOG_STR("comm", c->comm), LOG_STR("change", what),
		    LOG_UINT("generation", c->generation), LOG_STR("action", "restoring the table"));
	x->drifted = true;
}

void enforce_on_events(struct daemon *d)
{
	struct drift_ctx x = { .d = d };
	int r = monitor_process(d->monitor, on_change, &x);

	if (r == -ENOBUFS) {
		log_warning("events_lost", LOG_STR("source", "nftables event socket"),
			    LOG_STR("action", "full resync from the kernel"));
		d->ranges_unsure = true;
		d->next_verify_ms = 0;
		enforce_tick(d);
		return;
	}
	if (r < 0) {
		log_warning("events_failed", LOG_STR("error", strerror(-r)));
		d->ranges_unsure = true;
	}
	if (x.drifted)
		repair(d, "change by another process");
}

/* ---- internal interfaces ---- */

/* "a, b" of the names in x that y lacks (both sorted), into buf. */
static void names_missing(const char (*x)[IFNAMSIZ], size_t nx, const char (*y)[IFNAMSIZ], size_t ny,
			  char *buf, size_t len)
{
	size_t i = 0, k = 0, used = 0;

	buf[0] = '\0';
	while (i < nx) {
		int c = k == ny ? -1 : strncmp(x[i], y[k], IFNAMSIZ);

		if (c == 0) {
			i++;
			k++;
		} else if (c > 0) {
			k++;
		} else {
			int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", x[i++]);

			if (n < 0 || (size_t)n >= len - used) {
				/* A long list is cut where it stops fitting. */
				buf[used] = '\0';
				snprintf(buf + used, len - used, "%s...", used ? "," : "");
				return;
			}
			used += (size_t)n;
		}
	}
}

/* Brings the ruleset's internal set up to the interfaces as they are now
 * and, while the table is installed, pushes only the set's elements (one
 * transaction: counters and the rest of the table stay). */
static void update_internal(struct daemon *d, const char *cause)
{
	char (*old)[IFNAMSIZ] = NULL, added[512], removed[512], err[512] = "";
	size_t n_old;
	uint64_t t0 = daemon_now_ms();
	int r;

	if (!d->ruleset)
		return;
	n_old = d->ruleset->n_internal;
	if (n_old && !(old = calloc(n_old, sizeof(*old))))
		return;
	if (n_old)
		memcpy(old, d->ruleset->internal, n_old * sizeof(*old));
	if (fill_internal(d, d->config, d->ruleset) < 0 ||
	    ruleset_internal_equal(d->ruleset, (const char (*)[IFNAMSIZ])old, n_old)) {
		free(old);
		return;
	}
	names_missing((const char (*)[IFNAMSIZ])d->ruleset->internal, d->ruleset->n_internal,
		      (const char (*)[IFNAMSIZ])old, n_old, added, sizeof(added));
	names_missing((const char (*)[IFNAMSIZ])old, n_old,
		      (const char (*)[IFNAMSIZ])d->ruleset->internal, d->ruleset->n_internal, removed,
		      sizeof(removed));
	free(old);
	if (!d->enforcing) {
		log_info("internal_interfaces_changed", LOG_STR("added", added), LOG_STR("removed", removed),
			 LOG_UINT("internal_interfaces", d->ruleset->n_internal), LOG_STR("cause", cause),
			 LOG_STR("table", "not installed"));
		return;
	}
	r = nft_set_internal(d->nft, d->ruleset, err, sizeof(err));
	log_info("internal_interfaces_changed", LOG_STR("added", added), LOG_STR("removed", removed),
		 LOG_UINT("internal_interfaces", d->ruleset->n_internal), LOG_STR("cause", cause),
		 LOG_STR("table", r == 0 ? "set internal updated" : "set update failed: replacing the table"),
		 LOG_UINT("took_ms", daemon_now_ms() - t0));
	if (r < 0) {
		log_warning("internal_set_failed", LOG_STR("error", err[0] ? err : strerror(-r)),
			    LOG_STR("action", "replacing the whole table"));
		repair(d, "set internal could not be updated");
	}
}

/* Reads pending link events; a lost event or a failed dump is retried at
 * the next verification (links_process dumps again while stale). */
static void process_links(struct daemon *d, const char *cause)
{
	bool changed = false;
	int r;

	if (!d->links)
		return;
	r = links_process(d->links, &changed);
	if (r < 0) {
		log_warning("links_failed", LOG_STR("error", strerror(-r)),
			    LOG_STR("action", "read again at the next verification"));
		return;
	}
	if (changed)
		update_internal(d, cause);
}

void enforce_on_links(struct daemon *d)
{
	process_links(d, "link event");
}

static void read_counters(struct daemon *d, const struct nft_live *live)
{
	static const char *const comments[2] = { RULESET_COMMENT_REFUSE_UDP, RULESET_COMMENT_REFUSE_TCP };

	for (int i = 0; i < 2; i++) {
		const struct nft_live_rule *r = nft_live_find_rule(live, comments[i]);

		if (r && r->has_counter) {
			d->drop_packets[i] = r->packets;
			d->drop_bytes[i] = r->bytes;
		}
	}
}

/* Someone else changed set internal but nothing else: put its elements
 * back without replacing the table (counters stay). */
static bool repair_internal(struct daemon *d, const char *diff)
{
	char err[512] = "";
	int r;

	log_warning("rules_drift", LOG_STR("change", diff), LOG_STR("found_by", "verification"),
		    LOG_STR("action", "restoring set internal"));
	r = nft_set_internal(d->nft, d->ruleset, err, sizeof(err));
	if (r < 0) {
		log_warning("internal_set_failed", LOG_STR("error", err[0] ? err : strerror(-r)),
			    LOG_STR("action", "replacing the whole table"));
		return false;
	}
	d->drift_repairs++;
	d->verified_at = time(NULL);
	log_notice("rules_restored", LOG_STR("cause", "set internal changed by another process"),
		   LOG_UINT("repairs", d->drift_repairs));
	return true;
}

static void verify(struct daemon *d)
{
	struct nft_live *live = NULL;
	char diff[512] = "";
	bool full;
	int r;

	d->next_verify_ms = d->now_ms + VERIFY_INTERVAL_MS;
	/* The set follows the interfaces: bring it up to date first, so only
	 * someone else's change to it counts as drift. */
	process_links(d, "verification");
	/* Without an event socket nothing else watches the elements. */
	full = !d->monitor || d->ranges_unsure || d->now_ms >= d->next_ranges_ms;
	r = nft_read_flags(d->nft, full ? 0 : NFT_READ_NO_RANGES, &live, diff, sizeof(diff));
	if (r < 0 && r != -ENOENT) {
		log_warning("rules_verify_failed", LOG_STR("error", diff[0] ? diff : strerror(-r)));
		return;
	}
	if (full && r == 0) {
		d->ranges_unsure = false;
		d->next_ranges_ms = d->now_ms + RANGES_VERIFY_INTERVAL_MS;
	}
	if (live)
		read_counters(d, live);
	r = nft_compare(live, d->ruleset, diff, sizeof(diff));
	if (r == 0 && nft_compare_internal(live, d->ruleset, diff, sizeof(diff)) != 0) {
		nft_live_free(live);
		if (repair_internal(d, diff))
			return;
		repair(d, "set internal could not be restored");
		return;
	}
	nft_live_free(live);
	if (r < 0) {
		log_warning("rules_verify_failed", LOG_STR("error", strerror(-r)));
		return;
	}
	if (r == 0) {
		d->verified_at = time(NULL);
		return;
	}
	log_warning("rules_drift", LOG_STR("change", diff), LOG_STR("found_by", "verification"),
		    LOG_STR("action", "restoring the table"));
	repair(d, "verification found a difference");
}

void enforce_tick(struct daemon *d)
{
	if (!d->nft || !report_should_enforce(d))
		return;
	/* While an apply is being retried, the retry is the only action:
	 * verifying a table that could not be installed adds nothing. */
	if (d->repair_due_ms) {
		if (d->now_ms >= d->repair_due_ms)
			repair(d, "retry");
		return;
	}
	if (d->now_ms >= d->next_verify_ms)
		verify(d);
}
