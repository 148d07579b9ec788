/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "report-render.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define USEC 1000000.0
#define TEXT_GAPS 10

const char *report_sealed_text(const struct journalread_seal *s)
{
	unsigned ok = s->files - s->unreadable;

	if (!ok || !s->sealed)
		return "no";
	return s->sealed == ok ? "yes" : "partly";
}

static double secs(int64_t us)
{
	return round((double)us / 1000.0) / 1000.0;
}

/* A journal read from a file may hold any bytes: a value that is not valid
 * UTF-8 is stored escaped like the log rather than dropped. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *e;

	if (j)
		return j;
	e = log_escape(s, strlen(s), NULL);
	j = json_string(e ? e : "");
	free(e);
	return j;
}

static json_t *jtime(int64_t t_us)
{
	char buf[48];

	if (t_us < 0)
		return json_null();
	timeline_format_time(t_us, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *gaps_json(const struct timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->n_gaps; i++) {
		const struct timeline_gap *g = &tl->gaps[i];

		json_array_append_new(a, json_pack("{s:o, s:o, s:f, s:s, s:o}", "start", jtime(g->start_us), "end",
						   jtime(g->end_us), "seconds", secs(g->end_us - g->start_us), "cause",
						   timeline_cause_name(g->cause), "detail", jstr(g->detail)));
	}
	return a;
}

static json_t *boots_json(const struct timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->n_boots; i++) {
		const struct timeline_boot *b = &tl->boots[i];

		json_array_append_new(a, json_pack("{s:s, s:o, s:o}", "boot_id", b->boot_id, "start", jtime(b->start_us),
						   "rules_after_seconds",
						   b->rules_after_us < 0 ? json_null() : json_real(secs(b->rules_after_us))));
	}
	return a;
}

static json_t *changes_json(const struct timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->n_changes; i++) {
		const struct timeline_change *c = &tl->changes[i];

		json_array_append_new(a, json_pack("{s:o, s:s, s:o, s:o}", "time", jtime(c->t_us), "kind", c->kind,
						   "detail", jstr(c->detail), "hash",
						   c->hash[0] ? jstr(c->hash) : json_null()));
	}
	return a;
}

static json_t *listeners_json(const struct timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->n_listeners; i++) {
		const struct timeline_listener *l = &tl->listeners[i];

		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "proto", jstr(l->proto),
						   "address", jstr(l->addr), "port", jstr(l->port), "exposure",
						   jstr(l->exposure), "owner", jstr(l->owner), "first_seen",
						   jtime(l->first_us), "last_seen", jtime(l->last_us), "listening",
						   l->open));
	}
	return a;
}

static json_t *recursion_json(const struct timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->n_recursion; i++) {
		const struct timeline_recursion *r = &tl->recursion[i];

		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, s:o}", "time", jtime(r->t_us), "querier",
						   jstr(r->querier), "server", jstr(r->server), "qname",
						   jstr(r->qname), "qtype", jstr(r->qtype)));
	}
	return a;
}

static void day_text(int64_t day, char *buf, size_t len)
{
	char t[48];

	timeline_format_time(day * 86400 * 1000000LL, t, sizeof(t));
	snprintf(buf, len, "%.10s", t);
}

static json_t *queries_json(const struct timeline *tl)
{
	json_t *days = json_array();
	char d[16];

	for (size_t i = 0; days && i < tl->n_days; i++) {
		day_text(tl->days[i].day, d, sizeof(d));
		json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "date", d, "inbound",
						      (json_int_t)tl->days[i].inbound, "refused",
						      (json_int_t)tl->days[i].refused));
	}
	return json_pack("{s:I, s:I, s:o}", "inbound_total", (json_int_t)tl->inbound_total, "refused_total",
			 (json_int_t)tl->refused_total, "by_day", days);
}

json_t *report_json(const struct timeline *tl, const struct report_meta *m)
{
	const struct journalread_seal *s = &m->seal;

	return json_pack("{s:i, s:o, s:o, s:{s:o, s:o}, s:{s:f, s:f, s:f}, s:o, s:I, s:o, s:o, s:I, s:o, s:o, s:o,"
			 " s:{s:b, s:s, s:i, s:i, s:o, s:o, s:o}}",
			 "schema_version", REPORT_SCHEMA_VERSION,
			 "generated_at", jtime(m->generated_us),
			 "host", m->hostname && *m->hostname ? jstr(m->hostname) : json_null(),
			 "window", "since", jtime(tl->since_us), "until", jtime(tl->until_us),
			 "coverage", "enforced_seconds", secs(tl->enforced_us), "window_seconds",
			 secs(tl->until_us - tl->since_us), "ratio", round(timeline_ratio(tl) * 1e6) / 1e6,
			 "gaps", gaps_json(tl), "gaps_omitted", (json_int_t)tl->gaps_omitted,
			 "boots", boots_json(tl), "changes", changes_json(tl),
			 "changes_omitted", (json_int_t)tl->changes_omitted,
			 "listeners", listeners_json(tl), "recursion_offered", recursion_json(tl),
			 "queries", queries_json(tl),
			 "journal", "sealed", strcmp(report_sealed_text(s), "yes") == 0, "sealed_files_text",
			 report_sealed_text(s), "files", (int)s->files, "sealed_files", (int)s->sealed, "first_entry",
			 jtime(tl->journal_first_us), "last_entry", jtime(tl->journal_last_us), "source",
			 jstr(m->source ? m->source : "system journal"));
}

/* ---- one screen of text ---- */

/* At most max bytes of the escaped text (cut at a character boundary, with
 * "..."), so that a line stays on one terminal line. */
static void put_escaped_max(FILE *f, const char *s, size_t max)
{
	char *e = log_escape(s, strlen(s), NULL);
	size_t n;

	if (!e) {
		fputs("?", f);
		return;
	}
	n = strlen(e);
	if (n > max) {
		n = max - 3;
		while (n > 0 && ((unsigned char)e[n] & 0xc0) == 0x80)
			n--;
		fwrite(e, 1, n, f);
		fputs("...", f);
	} else {
		fputs(e, f);
	}
	free(e);
}

static void put_escaped(FILE *f, const char *s)
{
	put_escaped_max(f, s, 60);
}

static void print_duration(FILE *f, double s)
{
	if (s < 120)
		fprintf(f, "%.3f s", s);
	else if (s < 7200)
		fprintf(f, "%.1f min", s / 60);
	else if (s < 172800)
		fprintf(f, "%.1f h", s / 3600);
	else
		fprintf(f, "%.1f d", s / 86400);
}

int report_text(FILE *f, const struct timeline *tl, const struct report_meta *m)
{
	char a[48], b[48];
	size_t first = tl->n_gaps > TEXT_GAPS ? tl->n_gaps - TEXT_GAPS : 0;

	timeline_format_time(tl->since_us, a, sizeof(a));
	timeline_format_time(tl->until_us, b, sizeof(b));
	fprintf(f, "port53guard report");
	if (m->hostname && *m->hostname) {
		fputs(" for ", f);
		put_escaped(f, m->hostname);
	}
	fprintf(f, "\nwindow:    %s .. %s (", a, b);
	print_duration(f, (double)(tl->until_us - tl->since_us) / USEC);
	fprintf(f, ")\ncoverage:  %.3f%% enforced (%.1f of %.1f s), %zu gap%s\n", timeline_ratio(tl) * 100.0,
		secs(tl->enforced_us), secs(tl->until_us - tl->since_us), tl->n_gaps + tl->gaps_omitted,
		tl->n_gaps + tl->gaps_omitted == 1 ? "" : "s");
	if (first)
		fprintf(f, "  ... %zu earlier gaps (--format json or html lists all)\n", first);
	for (size_t i = first; i < tl->n_gaps; i++) {
		const struct timeline_gap *g = &tl->gaps[i];

		timeline_format_time(g->start_us, a, sizeof(a));
		fprintf(f, "  %s  %12.3f s  %-17s ", a, secs(g->end_us - g->start_us), timeline_cause_name(g->cause));
		put_escaped_max(f, g->detail, 64);
		fputc('\n', f);
	}
	fprintf(f, "boots:     %zu", tl->n_boots);
	for (size_t i = 0, n = 0; i < tl->n_boots && n < 4; i++)
		if (tl->boots[i].rules_after_us >= 0 && tl->boots[i].start_us >= tl->since_us) {
			fprintf(f, "%s%.12s rules %.1f s after kernel start", n++ ? "; " : " (", tl->boots[i].boot_id,
				secs(tl->boots[i].rules_after_us));
			if (n == 4 || i + 1 == tl->n_boots)
				fputc(')', f);
		}
	fprintf(f, "\nchanges:   %zu", tl->n_changes + tl->changes_omitted);
	if (tl->n_changes) {
		const struct timeline_change *c = &tl->changes[tl->n_changes - 1];

		timeline_format_time(c->t_us, a, sizeof(a));
		fprintf(f, ", last %s %s: ", a, c->kind);
		put_escaped(f, c->detail);
	}
	fprintf(f, "\nlisteners: %zu public", tl->n_listeners);
	for (size_t i = 0; i < tl->n_listeners && i < 3; i++) {
		fputs(i ? "; " : ": ", f);
		put_escaped(f, tl->listeners[i].proto);
		fputc(' ', f);
		put_escaped(f, tl->listeners[i].addr);
		fputs(" port ", f);
		put_escaped(f, tl->listeners[i].port);
		fputc(' ', f);
		put_escaped(f, tl->listeners[i].owner);
	}
	fprintf(f, "\nrecursion: %zu offered\nqueries:   %" PRIu64 " inbound, %" PRIu64 " refused\n",
		tl->n_recursion + tl->recursion_omitted, tl->inbound_total, tl->refused_total);
	fprintf(f, "journal:   %u file%s, sealed: %s", m->seal.files, m->seal.files == 1 ? "" : "s",
		report_sealed_text(&m->seal));
	if (strcmp(report_sealed_text(&m->seal), "yes") != 0)
		fputs(" (journalctl --setup-keys enables Forward Secure Sealing)", f);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}
