/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "report-render.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* One file an auditor can keep: no script, no external asset, and it prints
 * on A4. The timeline is inline SVG: one row for a window of up to two days,
 * else one row per UTC day; the enforced time is green and every gap is
 * drawn in its cause's colour (at least 1.5 units wide, so a drift of a
 * second stays visible on a day's row). */

#define USEC 1000000LL
#define DAY_US (86400 * USEC)
#define ROW_H 30
#define BAR_X 120
#define BAR_W 850
#define MAX_ROWS 400
#define MAX_TABLE_ROWS 2000

static const char *const cause_colour[_TL_CAUSE_MAX] = {
	[TL_CAUSE_NONE] = "#2e7d32",
	[TL_CAUSE_AGENT_NOT_RUNNING] = "#c62828",
	[TL_CAUSE_RULES_REMOVED] = "#ef6c00",
	[TL_CAUSE_MODE_MONITOR] = "#6a1b9a",
	[TL_CAUSE_DRIFT] = "#d81b60",
	[TL_CAUSE_CONFIG_FALLBACK] = "#f9a825",
	[TL_CAUSE_UNKNOWN] = "#757575",
	[TL_CAUSE_RULES_MISSING] = "#8e0000",
	[TL_CAUSE_AUTO_WAITING] = "#1565c0",
};

/* Text for HTML: the log's escaping first (any byte becomes printable
 * UTF-8), then the five characters HTML gives meaning to. */
static void h(FILE *f, const char *s)
{
	char *e = log_escape(s, strlen(s), NULL);

	for (const char *p = e ? e : "?"; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*p, f);
		}
	}
	free(e);
}

static void t(FILE *f, int64_t t_us)
{
	char buf[48];

	if (t_us < 0) {
		fputs("-", f);
		return;
	}
	timeline_format_time(t_us, buf, sizeof(buf));
	fputs(buf, f);
}

static double secs(int64_t us)
{
	return round((double)us / 1000.0) / 1000.0;
}

static const char css[] =
	"@page{size:A4;margin:12mm}"
	"body{font:10pt/1.35 system-ui,sans-serif;color:#111;margin:0 auto;max-width:190mm;"
	"-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"h1{font-size:15pt;margin:0 0 4pt}h2{font-size:12pt;margin:14pt 0 4pt;break-after:avoid}"
	"table{border-collapse:collapse;width:100%;font-size:8.5pt}"
	"th,td{border:1px solid #bbb;padding:2pt 4pt;text-align:left;vertical-align:top}"
	"th{background:#eee}tr{break-inside:avoid}thead{display:table-header-group}"
	"td.n{text-align:right;white-space:nowrap}td.t{white-space:nowrap}"
	".cov{font-size:20pt;font-weight:bold}.swatch{display:inline-block;width:9pt;height:9pt;"
	"margin:0 3pt 0 8pt;vertical-align:-1pt}svg{width:100%;height:auto}"
	".note{color:#555;font-size:8.5pt}";

static void svg_rect(FILE *f, double x0, double x1, int y, const char *colour, const char *title_cause,
		     const struct timeline_gap *g)
{
	double w = x1 - x0;

	if (g && w < 1.5) {
		x0 -= (1.5 - w) / 2;
		w = 1.5;
	}
	if (w <= 0)
		return;
	fprintf(f, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\">", x0, y, w, ROW_H - 6, colour);
	if (g) {
		fprintf(f, "<title>%s ", title_cause);
		t(f, g->start_us);
		fprintf(f, " %.3f s: ", secs(g->end_us - g->start_us));
		h(f, g->detail);
		fputs("</title>", f);
	}
	fputs("</rect>", f);
}

static double xpos(int64_t v, int64_t rs, int64_t re)
{
	return BAR_X + (double)(v - rs) * BAR_W / (double)(re - rs);
}

/* One row of the timeline: [rs, re) with the window's part green and the
 * gaps over it. *gi is the first gap that may reach into the row. */
static void svg_row(FILE *f, const struct timeline *tl, int64_t rs, int64_t re, int y, const char *label, size_t *gi)
{
	int64_t a = rs > tl->since_us ? rs : tl->since_us, b = re < tl->until_us ? re : tl->until_us;

	fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"11\">%s</text>", y + 12, label);
	svg_rect(f, BAR_X, BAR_X + BAR_W, y, "#e0e0e0", NULL, NULL);
	if (b > a)
		svg_rect(f, xpos(a, rs, re), xpos(b, rs, re), y, cause_colour[TL_CAUSE_NONE], NULL, NULL);
	while (*gi < tl->n_gaps && tl->gaps[*gi].end_us <= rs)
		(*gi)++;
	for (size_t i = *gi; i < tl->n_gaps && tl->gaps[i].start_us < re; i++) {
		const struct timeline_gap *g = &tl->gaps[i];
		int64_t ga = g->start_us > rs ? g->start_us : rs, gb = g->end_us < re ? g->end_us : re;

		svg_rect(f, xpos(ga, rs, re), xpos(gb, rs, re), y, cause_colour[g->cause],
			 timeline_cause_name(g->cause), g);
	}
}

static int64_t day_floor(int64_t t_us)
{
	return (t_us >= 0 ? t_us / DAY_US : (t_us - DAY_US + 1) / DAY_US) * DAY_US;
}

static void svg_timeline(FILE *f, const struct timeline *tl)
{
	bool per_day = tl->until_us - tl->since_us > 2 * DAY_US;
	int64_t first = per_day ? day_floor(tl->since_us) : tl->since_us;
	int rows = per_day ? (int)((day_floor(tl->until_us - 1) - first) / DAY_US + 1) : 1;
	size_t gi = 0;
	char label[48];

	if (rows > MAX_ROWS)
		rows = MAX_ROWS;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" viewBox=\"0 0 %d %d\" role=\"img\">"
		   "<title>Enforcement timeline</title>", BAR_X + BAR_W + 20, rows * ROW_H + 20);
	for (int hr = 0; per_day && hr <= 24; hr += 6)
		fprintf(f, "<text x=\"%.1f\" y=\"10\" font-size=\"9\" text-anchor=\"middle\">%02d:00</text>",
			BAR_X + hr * BAR_W / 24.0, hr % 24 == 0 && hr ? 24 : hr);
	if (!per_day) {
		fprintf(f, "<text x=\"%d\" y=\"10\" font-size=\"9\">", BAR_X);
		t(f, tl->since_us);
		fprintf(f, "</text><text x=\"%d\" y=\"10\" font-size=\"9\" text-anchor=\"end\">", BAR_X + BAR_W);
		t(f, tl->until_us);
		fputs("</text>", f);
	}
	for (int r = 0; r < rows; r++) {
		int64_t rs = per_day ? first + r * DAY_US : tl->since_us;
		int64_t re = per_day ? rs + DAY_US : tl->until_us;

		timeline_format_time(rs, label, sizeof(label));
		label[per_day ? 10 : 16] = '\0';
		svg_row(f, tl, rs, re, 14 + r * ROW_H, label, &gi);
	}
	fputs("</svg>\n<p>", f);
	for (int c = 0; c < _TL_CAUSE_MAX; c++)
		fprintf(f, "<span class=\"swatch\" style=\"background:%s\"></span>%s", cause_colour[c],
			timeline_cause_name((enum timeline_cause)c));
	fputs("<span class=\"swatch\" style=\"background:#e0e0e0\"></span>outside the window</p>\n", f);
}

static void tables(FILE *f, const struct timeline *tl)
{
	char d[48];

	fprintf(f, "<h2>Gaps (%zu)</h2>\n<table><thead><tr><th>start</th><th>end</th><th>seconds</th><th>cause</th>"
		   "<th>detail</th></tr></thead><tbody>\n", tl->n_gaps + tl->gaps_omitted);
	for (size_t i = 0; i < tl->n_gaps && i < MAX_TABLE_ROWS; i++) {
		const struct timeline_gap *g = &tl->gaps[i];

		fputs("<tr><td class=\"t\">", f);
		t(f, g->start_us);
		fputs("</td><td class=\"t\">", f);
		t(f, g->end_us);
		fprintf(f, "</td><td class=\"n\">%.3f</td><td><span class=\"swatch\" style=\"background:%s;margin-left:0\">"
			   "</span>%s</td><td>", secs(g->end_us - g->start_us), cause_colour[g->cause],
			timeline_cause_name(g->cause));
		h(f, g->detail);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (tl->n_gaps > MAX_TABLE_ROWS || tl->gaps_omitted)
		fputs("<p class=\"note\">More gaps than this table shows: the JSON format lists them.</p>\n", f);

	fprintf(f, "<h2>Boots (%zu)</h2>\n<table><thead><tr><th>boot id</th><th>kernel start</th>"
		   "<th>rules after (s)</th></tr></thead><tbody>\n", tl->n_boots);
	for (size_t i = 0; i < tl->n_boots && i < MAX_TABLE_ROWS; i++) {
		fprintf(f, "<tr><td>%s</td><td class=\"t\">", tl->boots[i].boot_id);
		t(f, tl->boots[i].start_us);
		if (tl->boots[i].rules_after_us >= 0)
			fprintf(f, "</td><td class=\"n\">%.3f</td></tr>\n", secs(tl->boots[i].rules_after_us));
		else
			fputs("</td><td class=\"n\">-</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);

	fprintf(f, "<h2>Changes (%zu)</h2>\n<table><thead><tr><th>time</th><th>kind</th><th>detail</th>"
		   "<th>hash</th></tr></thead><tbody>\n", tl->n_changes + tl->changes_omitted);
	for (size_t i = 0; i < tl->n_changes && i < MAX_TABLE_ROWS; i++) {
		const struct timeline_change *c = &tl->changes[i];

		fputs("<tr><td class=\"t\">", f);
		t(f, c->t_us);
		fprintf(f, "</td><td>%s</td><td>", c->kind);
		h(f, c->detail);
		fputs("</td><td>", f);
		h(f, c->hash[0] ? c->hash : "-");
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);

	fprintf(f, "<h2>Public listeners (%zu)</h2>\n<table><thead><tr><th>proto</th><th>address</th><th>port</th>"
		   "<th>owner</th><th>first seen</th><th>last seen</th></tr></thead><tbody>\n", tl->n_listeners);
	for (size_t i = 0; i < tl->n_listeners; i++) {
		const struct timeline_listener *l = &tl->listeners[i];

		fputs("<tr><td>", f);
		h(f, l->proto);
		fputs("</td><td>", f);
		h(f, l->addr);
		fputs("</td><td>", f);
		h(f, l->port);
		fputs("</td><td>", f);
		h(f, l->owner);
		fputs("</td><td class=\"t\">", f);
		t(f, l->first_us);
		fputs("</td><td class=\"t\">", f);
		if (l->open)
			fputs("still listening, ", f);
		t(f, l->last_us);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);

	fprintf(f, "<h2>Recursion offered (%zu)</h2>\n<table><thead><tr><th>time</th><th>querier</th><th>server</th>"
		   "<th>name</th><th>type</th></tr></thead><tbody>\n", tl->n_recursion + tl->recursion_omitted);
	for (size_t i = 0; i < tl->n_recursion && i < 200; i++) {
		const struct timeline_recursion *r = &tl->recursion[i];

		fputs("<tr><td class=\"t\">", f);
		t(f, r->t_us);
		fputs("</td><td>", f);
		h(f, r->querier);
		fputs("</td><td>", f);
		h(f, r->server);
		fputs("</td><td>", f);
		h(f, r->qname);
		fputs("</td><td>", f);
		h(f, r->qtype);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);

	fprintf(f, "<h2>Daily totals</h2>\n<table><thead><tr><th>date (UTC)</th><th>inbound queries</th>"
		   "<th>refused packets</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < tl->n_days; i++) {
		timeline_format_time(tl->days[i].day * DAY_US, d, sizeof(d));
		fprintf(f, "<tr><td>%.10s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 "</td></tr>\n", d,
			tl->days[i].inbound, tl->days[i].refused);
	}
	fprintf(f, "<tr><th>total</th><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 "</td></tr>\n"
		   "</tbody></table>\n", tl->inbound_total, tl->refused_total);
}

int report_html(FILE *f, const struct timeline *tl, const struct report_meta *m)
{
	const char *sealed = report_sealed_text(&m->seal);

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		   "<title>port53guard report</title><style>%s</style></head><body>\n<h1>port53guard report", css);
	if (m->hostname && *m->hostname) {
		fputs(": ", f);
		h(f, m->hostname);
	}
	fputs("</h1>\n<p>Inbound DNS (UDP:53 from 0.0.0.0/0 and ::/0) refused on this host, rebuilt from the "
	      "agent's journal entries.</p>\n<table><tbody><tr><th>window</th><td>", f);
	t(f, tl->since_us);
	fputs(" .. ", f);
	t(f, tl->until_us);
	fprintf(f, "</td></tr><tr><th>coverage</th><td><span class=\"cov\">%.3f%%</span> enforced "
		   "(%.1f of %.1f s), %zu gaps</td></tr><tr><th>journal</th><td>", timeline_ratio(tl) * 100.0,
		secs(tl->enforced_us), secs(tl->until_us - tl->since_us), tl->n_gaps + tl->gaps_omitted);
	h(f, m->source ? m->source : "system journal");
	fprintf(f, ": %u files, sealed (Forward Secure Sealing): %s; entries from ", m->seal.files, sealed);
	t(f, tl->journal_first_us);
	fputs(" to ", f);
	t(f, tl->journal_last_us);
	fputs("</td></tr><tr><th>generated</th><td>", f);
	t(f, m->generated_us);
	fputs("</td></tr></tbody></table>\n<h2>Timeline</h2>\n", f);
	svg_timeline(f, tl);
	tables(f, tl);
	fprintf(f, "<p class=\"note\">port53guard report, schema %d. %s</p>\n</body></html>\n", REPORT_SCHEMA_VERSION,
		strcmp(sealed, "yes") == 0 ? "The journal files are sealed: journalctl --verify checks them."
					    : "The journal files are not sealed: journalctl --setup-keys enables "
					      "Forward Secure Sealing.");
	return ferror(f) ? -EIO : 0;
}
