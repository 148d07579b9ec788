/* SPDX-License-Identifier: GPL-2.0-or-later */
/* port53guard report: when UDP:53 was refused, and every gap with its
 * cause, rebuilt from the agent's events in the journal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-journal.h>

#include "cli.h"
#include "fileio.h"
#include "journalread.h"
#include "report-render.h"
#include "timeline.h"

#define DEFAULT_WINDOW_US (24LL * 3600 * 1000000)

enum report_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_HTML };

#define OPT_FILE 256    /* long option only */

struct report_args {
	const char *since, *until, *output;
	enum report_format format;
	struct journalread_source src;
};

static const struct cli_option report_options[] = {
	{ { "since", required_argument, NULL, 'S' },
	  "  -S, --since WHEN   start of the window (default: 24 hours before --until);\n"
	  "                     WHEN is ISO 8601 (2026-07-01, 2026-07-01T08:00:00+08:00; UTC\n"
	  "                     without an offset), -30d, -12h, -10m, -30s, now or boot" },
	{ { "until", required_argument, NULL, 'U' },
	  "  -U, --until WHEN   end of the window (default: now)" },
	{ { "format", required_argument, NULL, 'f' },
	  "  -f, --format FMT   text (default, one screen), json or html (one self-contained file)" },
	{ { "output", required_argument, NULL, 'o' },
	  "  -o, --output FILE  write the report to FILE (replaced atomically) instead of stdout" },
	{ { "directory", required_argument, NULL, 'D' },
	  "  -D, --directory DIR  read the journal files in DIR instead of the system journal" },
	{ { "file", required_argument, NULL, OPT_FILE },
	  "      --file FILE    read one journal file" },
};

static int report_option(int key, const char *arg, void *userdata)
{
	struct report_args *a = userdata;

	switch (key) {
	case 'S': a->since = arg; return 0;
	case 'U': a->until = arg; return 0;
	case 'o': a->output = arg; return 0;
	case 'D':
		if (a->src.file)
			return -1;
		a->src.directory = arg;
		return 0;
	case OPT_FILE:
		if (a->src.directory)
			return -1;
		a->src.file = arg;
		return 0;
	case 'f':
		if (strcmp(arg, "text") == 0)
			a->format = FORMAT_TEXT;
		else if (strcmp(arg, "json") == 0)
			a->format = FORMAT_JSON;
		else if (strcmp(arg, "html") == 0)
			a->format = FORMAT_HTML;
		else
			return -1;
		return 0;
	}
	return -1;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The window from the arguments; "boot" is the start of the journal's
 * newest boot (for the system journal, this boot). */
static int resolve_window(const struct cli_command *cmd, const struct report_args *a, sd_journal *j,
			  struct timeline *tl)
{
	int64_t now = now_us(), boot = -1, since, until;

	if (journalread_last_boot_start(j, &boot) < 0)
		boot = -1;
	if (a->until && timeline_parse_when(a->until, now, boot, &until) < 0) {
		cli_usage_error(cmd, "invalid value '%s' for --until", a->until);
		return -EINVAL;
	}
	if (!a->until)
		until = now;
	if (a->since && timeline_parse_when(a->since, now, boot, &since) < 0) {
		cli_usage_error(cmd, "invalid value '%s' for --since%s", a->since,
				strcmp(a->since, "boot") == 0 ? ": the journal has no entries" : "");
		return -EINVAL;
	}
	if (!a->since)
		since = until - DEFAULT_WINDOW_US;
	if (since >= until) {
		cli_usage_error(cmd, "--since must be before --until");
		return -EINVAL;
	}
	timeline_init(tl, since, until);
	return 0;
}

static int render(const struct report_args *a, const struct timeline *tl, const struct report_meta *m, char **ret,
		  size_t *ret_len)
{
	FILE *f = open_memstream(ret, ret_len);
	json_t *doc;
	int r = 0;

	if (!f)
		return -ENOMEM;
	if (a->format == FORMAT_JSON) {
		doc = report_json(tl, m);
		if (!doc || json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0)
			r = -ENOMEM;
		json_decref(doc);
		fputc('\n', f);
	} else if (a->format == FORMAT_HTML) {
		r = report_html(f, tl, m);
	} else {
		r = report_text(f, tl, m);
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(*ret);
		*ret = NULL;
	}
	return r;
}

static int write_out(const struct report_args *a, const char *buf, size_t len)
{
	char path[4096];

	/* fileio_write_atomic() wants a directory part */
	if (a->output && !strchr(a->output, '/')) {
		if ((size_t)snprintf(path, sizeof(path), "./%s", a->output) >= sizeof(path))
			return -ENAMETOOLONG;
		return fileio_write_atomic(path, buf, len, 0644);
	}
	if (a->output)
		return fileio_write_atomic(a->output, buf, len, 0644);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
		return -EIO;
	return 0;
}

int cmd_report(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_command *cmd = cli_find("report");
	struct report_args a = { .format = FORMAT_TEXT };
	struct report_meta m = { 0 };
	struct timeline tl;
	sd_journal *j = NULL;
	char host[256] = "", *buf = NULL;
	size_t len = 0;
	int r, ret;

	r = cli_parse(ctx, cmd, argc, argv, report_options, sizeof(report_options) / sizeof(report_options[0]),
		      report_option, &a, 0, 0);
	if (r >= 0)
		return r;
	r = journalread_open(&a.src, &j);
	if (r < 0) {
		fprintf(stderr, "port53guard report: cannot open the journal%s%s: %s\n",
			a.src.directory || a.src.file ? " " : "",
			a.src.directory ? a.src.directory : a.src.file ? a.src.file : "", strerror(-r));
		return EXIT_ERROR;
	}
	if (resolve_window(cmd, &a, j, &tl) < 0) {
		journalread_close(j);
		return EXIT_USAGE;
	}
	journalread_cutoff(j, &tl.journal_first_us, &tl.journal_last_us);
	journalread_close(j);
	r = journalread_feed(&a.src, &tl, host, sizeof(host));
	if (r < 0 && r != -ENOMEM) {
		fprintf(stderr, "port53guard report: reading the journal: %s\n", strerror(-r));
		timeline_free(&tl);
		return EXIT_ERROR;
	}
	if (timeline_finish(&tl) < 0)
		fprintf(stderr, "port53guard report: out of memory: some lists are cut short\n");
	m.hostname = host;
	m.generated_us = now_us();
	m.source = a.src.directory ? a.src.directory : a.src.file ? a.src.file : "system journal";
	journalread_seal_status(&a.src, &m.seal);
	r = render(&a, &tl, &m, &buf, &len);
	if (r >= 0)
		r = write_out(&a, buf, len);
	if (r < 0) {
		fprintf(stderr, "port53guard report: cannot write %s: %s\n", a.output ? a.output : "the report",
			strerror(-r));
		ret = EXIT_ERROR;
	} else {
		ret = tl.n_gaps || tl.gaps_omitted ? EXIT_ATTENTION : EXIT_OK;
	}
	free(buf);
	timeline_free(&tl);
	return ret;
}
