/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <cap-ng.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "listeners.h"
#include "nft.h"
#include "ruleset.h"
#include "rulesconf.h"
#include "state.h"

enum apply_mode {
	APPLY_INSTALL,
	APPLY_DRY_RUN,
	APPLY_VERIFY,
};

struct apply_opts {
	enum apply_mode mode;
	bool force;
};

/* One line for a failed netlink operation. EPERM has two causes that call
 * for different fixes: no capability at all, or a table someone else owns. */
static void print_nft_error(const char *cmd, const char *doing, int r, const char *detail)
{
	capng_get_caps_process();
	if (r == -EPERM && !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN))
		fprintf(stderr, "port53guard %s: %s: permission denied (needs CAP_NET_ADMIN; run as root)\n",
			cmd, doing);
	else if (r == -EPERM)
		fprintf(stderr, "port53guard %s: %s: permission denied: table inet %s is owned by "
			"another process, such as a running port53guard (%s)\n", cmd, doing,
			RULESET_TABLE, detail[0] ? detail : strerror(-r));
	else
		fprintf(stderr, "port53guard %s: %s: %s\n", cmd, doing, detail[0] ? detail : strerror(-r));
}

static size_t n_elements(const struct ruleset *rs, enum ruleset_set_id id)
{
	return rs->sets[id].n_ranges;
}

/* The live table, read while the configuration is read and built: the
 * two do not depend on each other, and with a large allowlist both take
 * milliseconds (the kernel's dump of the sets, the parsing of the file).
 * open_r and read_r are nft_open()'s and nft_read()'s results; --force
 * reads nothing. */
struct prefetch {
	bool read;
	bool started;                   /* on its thread */
	bool pending;                   /* no thread: to be run by prefetch_wait() */
	pthread_t thread;
	struct nft_handle *h;
	struct nft_live *live;
	int open_r, read_r;
	char err[512];
};

static void *prefetch_run(void *arg)
{
	struct prefetch *p = arg;

	p->read_r = -ENOENT;
	p->open_r = nft_open(&p->h);
	if (p->open_r == 0 && p->read)
		p->read_r = nft_read(p->h, &p->live, p->err, sizeof(p->err));
	return NULL;
}

/* Without a thread the same happens later, in prefetch_wait(). */
static void prefetch_start(struct prefetch *p, bool read)
{
	p->read = read;
	p->started = pthread_create(&p->thread, NULL, prefetch_run, p) == 0;
	p->pending = !p->started;
}

static void prefetch_wait(struct prefetch *p)
{
	if (p->started)
		pthread_join(p->thread, NULL);
	else if (p->pending)
		prefetch_run(p);
	p->started = p->pending = false;
}

static void prefetch_end(struct prefetch *p)
{
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = p->pending = false;
	nft_live_free(p->live);
	p->live = NULL;
	if (p->open_r == 0)
		nft_close(p->h);
	p->open_r = -EBADF;
}

/* Whether the live table is already exactly the one nft_apply() would
 * install: chains, rules, sets with their elements (set internal included,
 * as filled for this apply) and table flags. Anything unreadable counts as
 * a difference, so the table is replaced as before. */
static bool already_installed(const struct prefetch *p, const struct ruleset *rs)
{
	char diff[512] = "";

	return p->read_r == 0 && nft_compare(p->live, rs, diff, sizeof(diff)) == 0 &&
	       nft_compare_internal(p->live, rs, diff, sizeof(diff)) == 0 &&
	       nft_compare_flags(p->live, 0, diff, sizeof(diff)) == 0;
}

static int do_install(const struct ruleset *rs, const struct config *c, bool force, struct prefetch *p)
{
	char err[512] = "";
	bool same = false;
	int r;

	prefetch_wait(p);
	r = p->open_r;
	if (r == 0) {
		/* An unchanged table is left alone: replacing it would only
		 * reset its counters, the record of what was refused. */
		same = !force && already_installed(p, rs);
		/* No owner flag: the table must outlive this command. */
		if (!same)
			r = nft_apply(p->h, rs, 0, err, sizeof(err));
	}
	if (r < 0) {
		print_nft_error("apply", "cannot install rules", r, err);
		return EXIT_ERROR;
	}
	if (same)
		printf("table inet %s unchanged: it already matches the configuration (%zu rules; "
		       "counters kept)\n", RULESET_TABLE, rs->n_rules);
	else
		printf("table inet %s installed: %zu rules; UDP:53%s refused from 0.0.0.0/0 and ::/0\n",
		       RULESET_TABLE, rs->n_rules, rs->protos & RULESET_PROTO_TCP ? " and TCP:53" : "");
	printf("allowlist: %zu IPv4 and %zu IPv6 ranges; exempt interfaces: %zu\n",
	       n_elements(rs, RULESET_SET_ALLOW4), n_elements(rs, RULESET_SET_ALLOW6),
	       c->n_exempt_interfaces);
	printf("internal interfaces (accepted, as of now; the agent keeps them current): %zu%s",
	       rs->n_internal, rs->n_internal ? "" : "\n");
	for (size_t i = 0; i < rs->n_internal; i++)
		printf("%s%s", i ? ", " : ": ", rs->internal[i]);
	if (rs->n_internal)
		putchar('\n');
	return EXIT_OK;
}

/* One line per live rule: position, counter, and what it is. */
static void print_counters(const struct nft_live *live, const struct ruleset *rs, bool matches)
{
	char text[RULESET_RULE_STRLEN];

	for (size_t i = 0; i < live->n_rules; i++) {
		const struct nft_live_rule *lr = &live->rules[i];

		if (lr->has_counter)
			printf("  rule %zu  packets %" PRIu64 "  bytes %" PRIu64, i + 1, lr->packets,
			       lr->bytes);
		else
			printf("  rule %zu  packets -  bytes -", i + 1);
		if (matches)
			printf("  %s", ruleset_rule_format(&rs->rules[i], text, sizeof(text)));
		printf("  # %s\n", lr->comment[0] ? lr->comment : "(no comment)");
	}
}

static int do_verify(const struct ruleset *rs)
{
	struct nft_live *live = NULL;
	struct nft_handle *h;
	char diff[1024] = "";
	int r = nft_open(&h);

	if (r == 0) {
		r = nft_verify(h, rs, &live, diff, sizeof(diff));
		nft_close(h);
	}
	if (r < 0) {
		print_nft_error("apply", "cannot read the rules", r, diff);
		return EXIT_ERROR;
	}
	if (r == 0)
		printf("table inet %s matches the configuration (%zu rules, %zu IPv4 and %zu IPv6 "
		       "allowlist ranges)\n", RULESET_TABLE, rs->n_rules,
		       n_elements(rs, RULESET_SET_ALLOW4), n_elements(rs, RULESET_SET_ALLOW6));
	else
		printf("table inet %s differs from the configuration: %s\n", RULESET_TABLE, diff);
	if (live)
		print_counters(live, rs, r == 0);
	nft_live_free(live);
	return r == 0 ? EXIT_OK : EXIT_ATTENTION;
}

/* The internal set as the interfaces are now: a one-shot command has no
 * link events to follow, so the agent (or the next apply) brings it up to
 * date. Without the dump the set stays empty, which refuses more, never
 * less. */
static void fill_internal(const struct config *c, struct ruleset *rs)
{
	struct listeners_iftable t = { 0 };
	char err[256] = "";
	int r = listeners_iftable_dump(&t);

	if (r < 0)
		fprintf(stderr, "port53guard apply: warning: cannot list the interfaces (%s): "
			"set internal stays empty, DNS from containers and VMs to this host is refused\n",
			strerror(-r));
	else if ((r = rulesconf_set_internal(c, &t, rs, err, sizeof(err))) < 0)
		fprintf(stderr, "port53guard apply: warning: set internal stays empty: %s\n",
			err[0] ? err : strerror(-r));
	listeners_iftable_clear(&t);
}

static const struct cli_option apply_options[] = {
	{ { "dry-run", no_argument, NULL, 'n' },
	  "  -n, --dry-run      print the table in nft syntax; change nothing" },
	{ { "force", no_argument, NULL, 'f' },
	  "      --force        replace the table even when it already matches\n"
	  "                     (resets its counters)" },
	{ { "verify", no_argument, NULL, 'v' },
	  "      --verify       compare the live table with the configuration and print\n"
	  "                     its counters; exit 3 when it is missing or differs" },
};

/* --dry-run and --verify exclude each other: the second one is refused.
 * --force only means something for an install. */
static int apply_option(int key, const char *arg, void *userdata)
{
	struct apply_opts *o = userdata;

	(void)arg;
	if (key == 'f') {
		if (o->mode != APPLY_INSTALL)
			return -1;
		o->force = true;
		return 0;
	}
	if (o->mode != APPLY_INSTALL || o->force)
		return -1;
	o->mode = key == 'n' ? APPLY_DRY_RUN : APPLY_VERIFY;
	return 0;
}

int cmd_apply(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_command *cmd = cli_find("apply");
	struct apply_opts o = { .mode = APPLY_INSTALL };
	struct prefetch pf = { .open_r = -EBADF };
	struct rulesconf_policy *pol = NULL;
	struct ruleset *rs;
	struct config *c;
	char err[512] = "";
	int r = cli_parse(ctx, cmd, argc, argv, apply_options, 3, apply_option, &o, 0, 0);

	if (r >= 0)
		return r;
	/* A large allowlist passes through several arrays as large as itself
	 * (the file, the entries, the ranges, their read-back); first touches
	 * of fresh pages cost more than the work on them, so freed memory is
	 * kept in the heap for the next array instead of being unmapped. A
	 * one-shot command: nothing is held for long. */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	/* One heap for both threads, so the above holds for the reader too. */
	mallopt(M_ARENA_MAX, 1);
	if (o.mode == APPLY_INSTALL)
		prefetch_start(&pf, !o.force);
	if (cli_load_config(ctx, &c) < 0) {
		prefetch_end(&pf);
		return EXIT_ERROR;
	}
	r = rulesconf_build_policy(c, &rs, &pol, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "port53guard apply: cannot build the rules: %s\n",
			err[0] ? err : strerror(-r));
		prefetch_end(&pf);
		config_free(c);
		return EXIT_ERROR;
	}
	rulesconf_policy_print_warnings(c, pol, stderr, "port53guard apply: warning: ");
	fill_internal(c, rs);
	if (o.mode == APPLY_DRY_RUN) {
		r = ruleset_format_nft(rs, stdout) == 0 ? EXIT_OK : EXIT_ERROR;
		rulesconf_policy_print_scope(pol, stdout);
	} else if (o.mode == APPLY_VERIFY) {
		r = do_verify(rs);
	} else {
		r = do_install(rs, c, o.force, &pf);
	}
	prefetch_end(&pf);
	rulesconf_policy_free(pol);
	ruleset_free(rs);
	config_free(c);
	return r;
}

/* Lifting the rule also ends auto mode's memory of its trigger, or the
 * next start would put the rule back at once. */
static void forget_auto_trigger(void)
{
	struct state_ns ns;
	int r = state_ns_self(&ns);

	if (r == 0)
		r = state_auto_clear(&ns);
	if (r < 0)
		fprintf(stderr, "port53guard remove: cannot clear auto mode's saved trigger: %s\n", strerror(-r));
}

int cmd_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	struct nft_handle *h;
	char err[512] = "";
	int r = cli_parse_simple(ctx, cli_find("remove"), argc, argv, 0);

	if (r >= 0)
		return r;
	/* No configuration needed: a broken one must not keep the rule in place. */
	r = nft_open(&h);
	if (r == 0) {
		r = nft_remove(h, err, sizeof(err));
		nft_close(h);
	}
	if (r < 0) {
		print_nft_error("remove", "cannot remove the rules", r, err);
		return EXIT_ERROR;
	}
	printf("table inet %s removed: inbound DNS is no longer refused\n", RULESET_TABLE);
	forget_auto_trigger();
	return EXIT_OK;
}
