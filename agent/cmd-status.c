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

static void print_listeners(json_t *root)
{
	json_t *ls = json_object_get(root, "listeners"), *l;
	size_t i;

	if (!json_is_array(ls) || json_array_size(ls) == 0) {
		printf("listeners:     none on port 53\n");
		return;
	}
	printf("listeners:\n");
	json_array_foreach(ls, i, l)
		printf("  %-4s %-40s %-8s pid %-7lld %-16s %s\n", jstr(l, "proto", NULL), jstr(l, "address", NULL),
		       jstr(l, "exposure", NULL), jint(l, "pid", NULL), jstr(l, "comm", NULL), jstr(l, "unit", NULL));
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

static void print_human(json_t *root, bool running, const char *why)
{
	printf("agent:         %s", running ? "running" : "NOT RUNNING");
	if (running)
		printf(" (pid %lld, version %s, up %llds)\n", jint(root, "pid", NULL), jstr(root, "version", NULL),
		       jint(root, "uptime_seconds", NULL));
	else
		printf(" (%s)\n", why);
	printf("mode:          %s\n", jstr(root, "mode", NULL));
	printf("enforcement:   %s%s (%s)\n", jbool(root, "enforcement", "enforcing") ? "enforcing" : "not enforcing",
	       !jbool(root, "enforcement", "enforcing") && jbool(root, "enforcement", "should_enforce")
		       ? ", BUT SHOULD BE" : "",
	       jstr(root, "enforcement", "reason"));
	if (jbool(root, "enforcement", "config_fallback"))
		printf("FALLBACK:      %s\n", jstr(root, "enforcement", "fallback_reason"));
	printf("rules:         table %s, verified at %s, %lld drift repairs\n", jstr(root, "enforcement", "table"),
	       jstr(root, "enforcement", "rules_verified_at"), jint(root, "enforcement", "drift_repairs"));
	printf("dropped:       udp %lld packets, tcp %lld packets\n",
	       jint(json_object_get(root, "drops"), "udp", "packets"),
	       jint(json_object_get(root, "drops"), "tcp", "packets"));
	printf("capture:       %s, %lld received, %lld dropped by the kernel\n", jstr(root, "capture", "state"),
	       jint(root, "capture", "received"), jint(root, "capture", "dropped"));
	print_listeners(root);
	print_sources(root);
	printf("updated:       %s\n", jstr(root, "updated_at", NULL));
}

static int status_exit_code(json_t *root, bool running)
{
	if (!running)
		return EXIT_ERROR;
	if (jbool(root, "enforcement", "should_enforce") && !jbool(root, "enforcement", "enforcing"))
		return EXIT_ATTENTION;
	/* The rules in force are a fallback, not the configured ones. */
	if (jbool(root, "enforcement", "config_fallback"))
		return EXIT_ATTENTION;
	return EXIT_OK;
}

static const struct cli_option status_options[] = {
	{ { "json", no_argument, NULL, 'j' }, "  -j, --json         the status file as JSON, with \"running\" added" },
};

int cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *why = NULL;
	struct config *c;
	json_error_t jerr;
	bool json = false, running;
	json_t *root;
	char *text;
	int r;

	r = cli_parse(ctx, cli_find("status"), argc, argv, status_options, 1, cli_option_set_bool, &json, 0, 0);
	if (r >= 0)
		return r;
	if (cli_load_config(ctx, &c) < 0)
		return EXIT_ERROR;
	r = fileio_read_small(c->status_file, STATUS_MAX_BYTES, &text, NULL);
	if (r < 0) {
		fprintf(stderr, "port53guard status: agent not running: cannot read %s: %s\n", c->status_file,
			fileio_strerror(r));
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
	if (json) {
		json_object_set_new(root, "running", json_boolean(running));
		if (!running)
			json_object_set_new(root, "not_running_reason", json_string(why));
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		print_human(root, running, why);
	}
	r = status_exit_code(root, running);
	json_decref(root);
	config_free(c);
	return r;
}
