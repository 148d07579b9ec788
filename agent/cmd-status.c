/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "fileio.h"
#include "report.h"
#include "state.h"
#include "verdict.h"

#define STATUS_MAX_BYTES (4u << 20)

/* The file is the agent's, but it may be stale or damaged: every field is
 * read with a type check and a default. */
static const char *jstr(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static long long jint(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static bool jbool(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_is_true(v);
}

/* A pid is the agent's while /proc says it is a live (not zombie)
 * port53guard: a recycled pid or an unreaped corpse is not running. */
static bool pid_is_agent(long long pid)
{
	char path[64], buf[512];
	FILE *f;
	char *rp;
	bool ok = false;

	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		rp = strrchr(buf, ')');
		ok = rp && rp[1] == ' ' && rp[2] != 'Z' && strstr(buf, "(port53guard") != NULL;
	}
	fclose(f);
	return ok;
}

/* Running means: the pid in the file is alive and the file is fresh. */
static bool agent_running(json_t *root, const char **ret_why)
{
	long long pid = jint(root, "pid", NULL);
	long long updated = jint(root, "updated_at_unix", NULL);
	long long interval = jint(root, "status_interval_seconds", NULL);
	long long age = (long long)time(NULL) - updated;

	if (interval <= 0)
		interval = REPORT_STATUS_INTERVAL_S;
	if (pid <= 0 || !pid_is_agent(pid)) {
		*ret_why = "the agent that wrote the status file is gone";
		return false;
	}
	if (age > interval * REPORT_STALE_FACTOR) {
		*ret_why = "the status file is stale";
		return false;
	}
	return true;
}

static const char *jstr_or(json_t *o, const char *path1, const char *path2, const char *dflt)
{
	const char *v = jstr(o, path1, path2);

	return strcmp(v, "-") == 0 ? dflt : v;
}

static void print_listeners(json_t *root)
{
	json_t *ls = json_object_get(root, "listeners"), *l;
	size_t i;

	if (!json_is_array(ls) || json_array_size(ls) == 0) {
		printf("listeners:     none on port 53\n");
		return;
	}
	printf("listeners:\n");
	json_array_foreach(ls, i, l) {
		json_t *o = json_object_get(l, "owner");
		bool own = json_is_true(json_object_get(json_object_get(l, "netns"), "own"));
		const char *name = jstr_or(o, "container_name", NULL, jstr_or(o, "container", NULL, NULL));

		printf("  %-4s %-40s %-9s pid %-7lld %-16s %s%s%s\n", jstr(l, "proto", NULL), jstr(l, "address", NULL),
		       own ? jstr(l, "exposure", NULL) : "namespace", jint(o, "pid", NULL), jstr(o, "comm", NULL),
		       jstr_or(o, "unit", NULL, jstr_or(o, "user_unit", NULL, "-")), name ? " container " : "",
		       name ? name : "");
	}
}

static void print_sources(json_t *root)
{
	json_t *ss = json_object_get(root, "top_sources"), *s;
	size_t i;

	if (!json_is_array(ss) || json_array_size(ss) == 0)
		return;
	printf("top sources (last interval):\n");
	json_array_foreach(ss, i, s)
		printf("  %-43s %lld queries\n", jstr(s, "source", NULL), jint(s, "queries", NULL));
}

static void print_verdict(json_t *verdict, const char *indent)
{
	json_t *fs = json_object_get(verdict, "findings"), *f;
	const char *state = jstr(verdict, "state", NULL);
	size_t i;

	printf("%scompliance:    %s\n", indent, strcmp(state, "compliant") == 0 ? "compliant"
	       : strcmp(state, "at_risk") == 0 ? "AT RISK" : strcmp(state, "not_compliant") == 0 ? "NOT COMPLIANT"
	       : "unknown");
	json_array_foreach(fs, i, f)
		printf("%s  %-14s %-25s %s (since %s)\n", indent, jstr(f, "severity", NULL), jstr(f, "code", NULL),
		       jstr(f, "message", NULL), jstr(f, "since", NULL));
}

static void print_details(json_t *root)
{
	json_t *en = json_object_get(root, "enforcement");
	json_t *fb = json_object_get(en, "fallback");

	printf("mode:          %s\n", jstr(root, "mode", NULL));
	printf("enforcement:   %s%s (%s)\n", jbool(en, "enforcing", NULL) ? "enforcing" : "not enforcing",
	       !jbool(en, "enforcing", NULL) && jbool(en, "should_enforce", NULL) ? ", BUT SHOULD BE" : "",
	       jstr(en, "reason", NULL));
	if (jbool(fb, "active", NULL))
		printf("FALLBACK:      %s\n", jstr(fb, "reason", NULL));
	printf("rules:         table %s, verified at %s, %lld drift repairs\n", jstr(en, "table", NULL),
	       jstr_or(en, "rules_verified_at", NULL, "never"), jint(en, "drift_repairs", NULL));
	printf("dropped:       udp %lld packets, tcp %lld packets\n",
	       jint(json_object_get(root, "drops"), "udp", "packets"),
	       jint(json_object_get(root, "drops"), "tcp", "packets"));
	printf("capture:       %s, %lld received, %lld dropped by the kernel%s%s\n", jstr(root, "capture", "state"),
	       jint(root, "capture", "received"), jint(root, "capture", "dropped"),
	       json_is_string(json_object_get(json_object_get(root, "capture"), "missing")) ? "; not open: " : "",
	       jstr_or(root, "capture", "missing", ""));
	print_listeners(root);
	print_sources(root);
}

static void print_human(json_t *root, json_t *verdict, bool running, const char *why)
{
	print_verdict(verdict, "");
	if (running) {
		printf("agent:         running (pid %lld, version %s, up %llds)\n", jint(root, "pid", NULL),
		       jstr(root, "version", NULL), jint(root, "uptime_seconds", NULL));
		print_details(root);
		printf("updated:       %s\n", jstr(root, "updated_at", NULL));
		return;
	}
	printf("agent:         NOT RUNNING (%s)\n", why);
	printf("\nlast known, as of %s (pid %lld, version %s); none of it is current:\n",
	       jstr(root, "updated_at", NULL), jint(root, "pid", NULL), jstr(root, "version", NULL));
	print_verdict(json_object_get(root, "verdict"), "");
	print_details(root);
}

/* The verdict the agent wrote; when it does not run, agent_not_running
 * on top of what it last knew, and not compliant. */
static json_t *current_verdict(json_t *root, bool running)
{
	json_t *last = json_object_get(root, "verdict"), *v, *fs, *f;
	char since[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	if (running)
		return json_is_object(last) ? json_incref(last) : json_pack("{s:s, s:[]}", "state", "unknown", "findings");
	gmtime_r(&now, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fs = json_array();
	json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:s, s:I}", "code", verdict_code_name(VERDICT_AGENT_NOT_RUNNING),
		"severity", verdict_state_name(verdict_code_severity(VERDICT_AGENT_NOT_RUNNING)),
		"message", "the agent is not running: nothing keeps the rules in place; what follows is its last report",
		"since", jstr_or(root, "updated_at", NULL, since), "since_unix", (json_int_t)jint(root, "updated_at_unix", NULL)));
	json_array_foreach(json_object_get(last, "findings"), i, f)
		json_array_append(fs, f);
	v = json_pack("{s:s, s:s, s:o}", "state", verdict_state_name(VERDICT_NOT_COMPLIANT), "computed_at", since,
		      "findings", fs);
	return v;
}

static int status_exit_code(json_t *verdict, bool running)
{
	if (!running)
		return EXIT_ERROR;
	return strcmp(jstr(verdict, "state", NULL), verdict_state_name(VERDICT_COMPLIANT)) == 0 ? EXIT_OK
											     : EXIT_ATTENTION;
}

static const struct cli_option status_options[] = {
	{ { "json", no_argument, NULL, 'j' }, "  -j, --json         the status file as JSON, with \"running\" added" },
};

int cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *why = NULL;
	struct config *c;
	json_error_t jerr;
	bool json = false, running, config_broken = false;
	json_t *root, *verdict;
	char *text;
	int r;

	r = cli_parse(ctx, cli_find("status"), argc, argv, status_options, 1, cli_option_set_bool, &json, 0, 0);
	if (r >= 0)
		return r;
	/* A configuration the agent cannot use is when status matters most:
	 * the agent is then enforcing a fallback and says so in its status
	 * file. That file is looked for where the built-in defaults put it,
	 * and the exit status is never 0 while the configuration is broken. */
	if (cli_load_config(ctx, &c) < 0) {
		c = config_new();
		if (!c)
			return EXIT_ERROR;
		config_broken = true;
		free(c->status_file);
		c->status_file = state_fallback_status_file();
		if (!c->status_file) {
			config_free(c);
			return EXIT_ERROR;
		}
		fprintf(stderr, "port53guard status: the configuration cannot be loaded (above); "
			"reading the status file at its default place, %s\n", c->status_file);
	}
	r = fileio_read_small(c->status_file, STATUS_MAX_BYTES, &text, NULL);
	if (r < 0) {
		/* Nothing was ever known: the verdict alone, on stdout as usual. */
		fprintf(stderr, "port53guard status: agent not running: cannot read %s: %s\n", c->status_file,
			fileio_strerror(r));
		root = json_pack("{s:i, s:b, s:s, s:o}", "schema_version", REPORT_SCHEMA_VERSION, "running", 0,
				 "not_running_reason", "no status file", "verdict", json_null());
		verdict = current_verdict(root, false);
		if (json) {
			json_object_set(root, "verdict", verdict);
			json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			print_verdict(verdict, "");
		}
		json_decref(verdict);
		json_decref(root);
		config_free(c);
		return EXIT_ERROR;
	}
	root = json_loads(text, 0, &jerr);
	free(text);
	if (!json_is_object(root)) {
		fprintf(stderr, "port53guard status: %s is not a status file: %s (line %d)\n", c->status_file,
			jerr.text, jerr.line);
		json_decref(root);
		config_free(c);
		return EXIT_ERROR;
	}
	running = agent_running(root, &why);
	verdict = current_verdict(root, running);
	if (json) {
		json_object_set_new(root, "running", json_boolean(running));
		json_object_set_new(root, "not_running_reason", running ? json_null() : json_string(why));
		if (!running) {
			json_object_set(root, "last_known_verdict", json_object_get(root, "verdict"));
			json_object_set_new(root, "last_known_at", json_incref(json_object_get(root, "updated_at")));
		}
		json_object_set(root, "verdict", verdict);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		print_human(root, verdict, running, why);
	}
	r = status_exit_code(verdict, running);
	if (config_broken && r == EXIT_OK)
		r = EXIT_ATTENTION;
	json_decref(verdict);
	json_decref(root);
	config_free(c);
	return r;
}
