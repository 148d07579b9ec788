/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* ---- helpers ---- */

static struct config *parse_ok(const char *text)
{
	struct config *c = config_new();
	struct config_error err;
	int r;

	assert_non_null(c);
	r = config_parse_text(c, "t.conf", text, strlen(text), &err);
	if (r != 0)
		fail_msg("config_parse_text failed (%d) at line %u: %s", r, err.line, err.message);
	return c;
}

static void assert_value(const struct config *c, enum config_key k, const char *want)
{
	char *v = config_value_string(c, k);

	assert_non_null(v);
	if (strcmp(v, want) != 0)
		fail_msg("%s.%s = \"%s\", expected \"%s\"", config_key_section(k), config_key_name(k), v, want);
	free(v);
}

static void assert_origin(const struct config *c, enum config_key k, const char *file, unsigned line)
{
	const struct config_origin *o = &c->origin[k];

	if (!file) {
		if (o->file)
			fail_msg("%s: origin %s:%u, expected default", config_key_name(k), o->file, o->line);
		return;
	}
	assert_non_null(o->file);
	assert_string_equal(o->file, file);
	assert_int_equal(o->line, line);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	static const char *const want[_CONFIG_KEY_MAX] = {
		[CONFIG_AGENT_MODE] = "enforce",
		[CONFIG_AGENT_LOG_FORMAT] = "text",
		[CONFIG_AGENT_LOG_LEVEL] = "info",
		[CONFIG_AGENT_SUMMARY_INTERVAL] = "300s",
		[CONFIG_RULES_PROTOCOLS] = "udp",
		[CONFIG_RULES_ALLOW] = "",
		[CONFIG_RULES_EXEMPT_INTERFACES] = "",
		[CONFIG_RULES_INTERNAL_INTERFACES] = "auto",
		[CONFIG_RULES_KEEP_ON_STOP] = "yes",
		[CONFIG_RULES_POLICY_FILE] = "",
		[CONFIG_RULES_TABLE_OWNER] = "yes",
		[CONFIG_CAPTURE_INTERFACES] = "any",
		[CONFIG_CAPTURE_BUFFER_SIZE] = "4M",
		[CONFIG_CAPTURE_RESPONSES] = "yes",
		[CONFIG_LISTENERS_RESCAN_INTERVAL] = "30s",
		[CONFIG_LISTENERS_NAMESPACES] = "yes",
		[CONFIG_OUTPUT_STATUS_FILE] = "/run/port53guard/status.json",
		[CONFIG_OUTPUT_METRICS_FILE] = "",
	};
	struct config *c = config_new();
	struct config_error err;

	(void)state;
	assert_non_null(c);
	for (int k = 0; k < _CONFIG_KEY_MAX; k++) {
		assert_non_null(want[k]);
		assert_value(c, (enum config_key)k, want[k]);
		assert_origin(c, (enum config_key)k, NULL, 0);
	}
	assert_int_equal(c->mode, AGENT_MODE_ENFORCE);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->summary_interval, 300);
	assert_int_equal(c->protocols, CONFIG_PROTO_UDP);
	assert_int_equal(c->n_allow, 0);
	assert_int_equal(c->n_capture_interfaces, 0);
	assert_int_equal(c->capture_buffer_size, 4u << 20);
	assert_true(c->keep_on_stop);
	assert_null(c->policy_file);
	assert_null(c->metrics_file);
	assert_int_equal(c->n_files, 0);
	assert_int_equal(config_validate(c, &err), 0);
	config_free(c);
}

/* ---- values that parse ---- */

static void test_values(void **state)
{
	static const struct {
		const char *text;
		enum config_key key;
		const char *value;
	} cases[] = {
		{ "[agent]\nmode = monitor\n", CONFIG_AGENT_MODE, "monitor" },
		{ "[agent]\nmode=auto\n", CONFIG_AGENT_MODE, "auto" },
		{ "[agent]\nlog_format = json\n", CONFIG_AGENT_LOG_FORMAT, "json" },
		{ "[agent]\nlog_level = debug\n", CONFIG_AGENT_LOG_LEVEL, "debug" },
		{ "[agent]\nsummary_interval = 5m\n", CONFIG_AGENT_SUMMARY_INTERVAL, "300s" },
		{ "[agent]\nsummary_interval = 1\n", CONFIG_AGENT_SUMMARY_INTERVAL, "1s" },
		{ "[agent]\nsummary_interval = 24h\n", CONFIG_AGENT_SUMMARY_INTERVAL, "86400s" },
		{ "[agent]\nsummary_interval = 2MIN\n", CONFIG_AGENT_SUMMARY_INTERVAL, "120s" },
		{ "[rules]\nprotocols = udp, tcp\n", CONFIG_RULES_PROTOCOLS, "udp,tcp" },
		{ "[rules]\nprotocols = TCP UDP\n", CONFIG_RULES_PROTOCOLS, "udp,tcp" },
		{ "[rules]\nallow = 10.0.0.0/8, 2001:DB8::/32 192.0.2.1\n", CONFIG_RULES_ALLOW,
		  "10.0.0.0/8, 2001:db8::/32, 192.0.2.1/32" },
		{ "[rules]\nallow =\n", CONFIG_RULES_ALLOW, "" },
		{ "[rules]\nexempt_interfaces = wg0 veth*\n", CONFIG_RULES_EXEMPT_INTERFACES, "wg0, veth*" },
		{ "[rules]\ninternal_interfaces = none\n", CONFIG_RULES_INTERNAL_INTERFACES, "none" },
		{ "[rules]\ninternal_interfaces = docker0, veth*\n", CONFIG_RULES_INTERNAL_INTERFACES,
		  "docker0, veth*" },
		{ "[rules]\ninternal_interfaces = none\ninternal_interfaces = auto\n",
		  CONFIG_RULES_INTERNAL_INTERFACES, "auto" },
		{ "[rules]\nkeep_on_stop = off\n", CONFIG_RULES_KEEP_ON_STOP, "no" },
		{ "[rules]\nkeep_on_stop = TRUE\n", CONFIG_RULES_KEEP_ON_STOP, "yes" },
		{ "[rules]\npolicy_file = /etc/port53guard/sg.json\n", CONFIG_RULES_POLICY_FILE,
		  "/etc/port53guard/sg.json" },
		{ "[rules]\ntable_owner = no\n", CONFIG_RULES_TABLE_OWNER, "no" },
		{ "[capture]\ninterfaces = eth0,eth1\n", CONFIG_CAPTURE_INTERFACES, "eth0, eth1" },
		{ "[capture]\ninterfaces = any\n", CONFIG_CAPTURE_INTERFACES, "any" },
		{ "[capture]\nbuffer_size = 256K\n", CONFIG_CAPTURE_BUFFER_SIZE, "256K" },
		{ "[capture]\nbuffer_size = 1g\n", CONFIG_CAPTURE_BUFFER_SIZE, "1G" },
		{ "[capture]\nbuffer_size = 300000\n", CONFIG_CAPTURE_BUFFER_SIZE, "300000" },
		{ "[capture]\nbuffer_size = 8MiB\n", CONFIG_CAPTURE_BUFFER_SIZE, "8M" },
		{ "[capture]\nresponses = 0\n", CONFIG_CAPTURE_RESPONSES, "no" },
		{ "[listeners]\nrescan_interval = 1h\n", CONFIG_LISTENERS_RESCAN_INTERVAL, "3600s" },
		{ "[listeners]\nnamespaces = no\n", CONFIG_LISTENERS_NAMESPACES, "no" },
		{ "[output]\nstatus_file = /tmp/s.json\n", CONFIG_OUTPUT_STATUS_FILE, "/tmp/s.json" },
		{ "[output]\nmetrics_file = /tmp/m.prom\n", CONFIG_OUTPUT_METRICS_FILE, "/tmp/m.prom" },
		/* Comments, blank lines, CRLF, a byte order mark, inline ';' comments. */
		{ "# c\n; c\n\n[agent]\r\nmode = monitor\r\n", CONFIG_AGENT_MODE, "monitor" },
		{ "\xef\xbb\xbf[agent]\nmode = auto\n", CONFIG_AGENT_MODE, "auto" },
		{ "[agent]\nmode = auto ; the default is enforce\n", CONFIG_AGENT_MODE, "auto" },
		{ "[agent]\nmode = auto", CONFIG_AGENT_MODE, "auto" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = parse_ok(cases[i].text);

		assert_value(c, cases[i].key, cases[i].value);
		config_free(c);
	}
}

/* ---- one table row per kind of error ---- */

struct error_case {
	const char *text;
	size_t len;             /* 0: strlen(text) */
	int ret;
	unsigned line;
	const char *section, *key, *value;
	const char *message;    /* a substring of err.message */
};

static void test_error_one(const struct error_case *t)
{
	struct config *c = config_new();
	struct config_error err;
	size_t len = t->len ? t->len : strlen(t->text);
	char *line;
	int r;

	assert_non_null(c);
	memset(&err, 0x5a, sizeof(err));
	r = config_parse_text(c, "/etc/x.conf", t->text, len, &err);
	if (r != t->ret)
		fail_msg("\"%s\": returned %d, expected %d", t->text, r, t->ret);
	assert_string_equal(err.file, "/etc/x.conf");
	if (err.line != t->line)
		fail_msg("\"%s\": error at line %u, expected %u (%s)", t->text, err.line, t->line, err.message);
	assert_string_equal(err.section, t->section);
	assert_string_equal(err.key, t->key);
	assert_string_equal(err.value, t->value);
	if (!strstr(err.message, t->message))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", t->text, err.message, t->message);
	line = config_error_string(&err);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	free(line);
	config_free(c);
}

static char long_line[300];

static void test_errors(void **state)
{
	const struct error_case cases[] = {
		{ "[agent]\nmode = enforce\n[nope]\n", 0, -EINVAL, 3, "nope", "", "", "unknown section" },
		{ "[nope]\n", 0, -EINVAL, 1, "nope", "", "", "unknown section" },
		{ "[Agent]\nmode = enforce\n", 0, -EINVAL, 1, "Agent", "", "", "unknown section" },
		{ "\xef\xbb\xbf[nope]\n", 0, -EINVAL, 1, "nope", "", "", "unknown section" },
		/* inih would read it as a value: "[rules]" would become an interface name. */
		{ "[rules]\nexempt_interfaces = wg0\n  [rules]\nallow = 10.0.0.0/8\n", 0, -EINVAL, 3, "rules",
		  "", "", "indented section header" },
		{ "  [agent]\nmode = auto\n", 0, -EINVAL, 1, "agent", "", "", "indented section header" },
		{ "[agent]\n\nfoo = 1\n", 0, -EINVAL, 3, "agent", "foo", "1", "unknown key" },
		{ "[rules]\nmode = enforce\n", 0, -EINVAL, 2, "rules", "mode", "enforce", "unknown key" },
		{ "mode = enforce\n", 0, -EINVAL, 1, "", "mode", "enforce", "outside a [section]" },
		{ "[rules]\nallow = 10.0.0.1/24\n", 0, -EINVAL, 2, "rules", "allow", "10.0.0.1/24", "host bits" },
		{ "[rules]\nallow = 10.0.0.0/8, 1.2.3.4/33\n", 0, -EINVAL, 2, "rules", "allow",
		  "10.0.0.0/8, 1.2.3.4/33", "\"1.2.3.4/33\" has a prefix length out of range" },
		{ "[rules]\nallow = example.com\n", 0, -EINVAL, 2, "rules", "allow", "example.com",
		  "\"example.com\" is not an IPv4 or IPv6" },
		{ "[agent]\nsummary_interval = ten\n", 0, -EINVAL, 2, "agent", "summary_interval", "ten",
		  "not a duration" },
		{ "[agent]\nsummary_interval = 5 m\n", 0, -EINVAL, 2, "agent", "summary_interval", "5 m",
		  "not a duration" },
		{ "[agent]\nsummary_interval = -1\n", 0, -EINVAL, 2, "agent", "summary_interval", "-1",
		  "not a duration" },
		{ "[agent]\nsummary_interval = 1.5s\n", 0, -EINVAL, 2, "agent", "summary_interval", "1.5s",
		  "not a duration" },
		{ "[capture]\nbuffer_size = 4X\n", 0, -EINVAL, 2, "capture", "buffer_size", "4X", "not a size" },
		{ "[agent]\nsummary_interval = 0\n", 0, -EINVAL, 2, "agent", "summary_interval", "0", "out of range" },
		{ "[agent]\nsummary_interval = 25h\n", 0, -EINVAL, 2, "agent", "summary_interval", "25h",
		  "out of range" },
		{ "[listeners]\nrescan_interval = 99999999999999999999s\n", 0, -EINVAL, 2, "listeners",
		  "rescan_interval", "99999999999999999999s", "out of range" },
		{ "[listeners]\nrescan_interval = 9999999999999999h\n", 0, -EINVAL, 2, "listeners",
		  "rescan_interval", "9999999999999999h", "out of range" },
		{ "[capture]\nbuffer_size = 2G\n", 0, -EINVAL, 2, "capture", "buffer_size", "2G", "out of range" },
		{ "[capture]\nbuffer_size = 255K\n", 0, -EINVAL, 2, "capture", "buffer_size", "255K", "out of range" },
		{ "[agent]\nmode = paranoid\n", 0, -EINVAL, 2, "agent", "mode", "paranoid", "enforce, monitor or auto" },
		{ "[agent]\nlog_format = xml\n", 0, -EINVAL, 2, "agent", "log_format", "xml", "text or json" },
		{ "[agent]\nlog_level = loud\n", 0, -EINVAL, 2, "agent", "log_level", "loud", "expected error" },
		{ "[rules]\nprotocols = tcp\n", 0, -EINVAL, 2, "rules", "protocols", "tcp", "always covers UDP" },
		{ "[rules]\nprotocols = udp,sctp\n", 0, -EINVAL, 2, "rules", "protocols", "udp,sctp", "expected udp" },
		{ "[rules]\nkeep_on_stop = maybe\n", 0, -EINVAL, 2, "rules", "keep_on_stop", "maybe", "yes or no" },
		{ "[capture]\nresponses =\n", 0, -EINVAL, 2, "capture", "responses", "", "yes or no" },
		{ "[rules]\ntable_owner = mine\n", 0, -EINVAL, 2, "rules", "table_owner", "mine", "yes or no" },
		{ "[rules]\ninternal_interfaces = br/0\n", 0, -EINVAL, 2, "rules", "internal_interfaces", "br/0",
		  "not an interface name" },
		{ "[rules]\ninternal_interfaces =\n", 0, -EINVAL, 2, "rules", "internal_interfaces", "",
		  "expected auto, none or interface names" },
		{ "[rules]\nexempt_interfaces = eth0/1\n", 0, -EINVAL, 2, "rules", "exempt_interfaces", "eth0/1",
		  "not an interface name" },
		{ "[rules]\nexempt_interfaces = averyveryverylongname\n", 0, -EINVAL, 2, "rules",
		  "exempt_interfaces", "averyveryverylongname", "not an interface name" },
		{ "[capture]\ninterfaces = et*h0\n", 0, -EINVAL, 2, "capture", "interfaces", "et*h0",
		  "not an interface name" },
		{ "[capture]\ninterfaces = *\n", 0, -EINVAL, 2, "capture", "interfaces", "*", "not an interface name" },
		{ "[capture]\ninterfaces = eth\xc3\xa9\n", 0, -EINVAL, 2, "capture", "interfaces", "eth\xc3\xa9",
		  "control or non-ASCII" },
		{ "[rules]\npolicy_file = sg.json\n", 0, -EINVAL, 2, "rules", "policy_file", "sg.json", "absolute path" },
		{ "[output]\nstatus_file =\n", 0, -EINVAL, 2, "output", "status_file", "", "absolute path" },
		{ long_line, 0, -EINVAL, 2, "", "", "", "line longer than" },
		{ "[agent]\nmode = en\0force\n", 24, -EINVAL, 2, "", "", "", "NUL byte" },
		{ "\0", 1, -EINVAL, 1, "", "", "", "NUL byte" },
		{ "[agent]\nmode enforce\n", 0, -EINVAL, 2, "", "", "", "syntax error" },
		{ "[agent\nmode = enforce\n", 0, -EINVAL, 1, "", "", "", "syntax error" },
		/* The first error wins, not a later one caused by it. */
		{ "[agent]\nthis is not ini\nnope = 1\n", 0, -EINVAL, 2, "", "", "", "syntax error" },
		{ "[rules\nallow = 10.0.0.1/24\n", 0, -EINVAL, 1, "", "", "", "syntax error" },
		{ "[agent]\nmode = x\n[rules\n", 0, -EINVAL, 2, "agent", "mode", "x", "expected enforce" },
	};

	(void)state;
	snprintf(long_line, sizeof(long_line), "[rules]\nallow = %0250d\n", 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_error_one(&cases[i]);
}

/* The line limit is exact: inih's buffer holds 198 characters and the newline. */
static void test_line_limit(void **state)
{
	static const char head[] = "[output]\nstatus_file = /";
	char text[512];

	(void)state;
	for (size_t width = 195; width <= 201; width++) {
		/* line 2, "status_file = /aaa...", is width characters long */
		size_t n_a = width - strlen("status_file = /");
		struct config *c = config_new();
		struct config_error err;

		assert_non_null(c);
		memcpy(text, head, strlen(head));
		memset(text + strlen(head), 'a', n_a);
		strcpy(text + strlen(head) + n_a, "\n");
		if (width <= 198) {
			assert_int_equal(config_parse_text(c, "t", text, strlen(text), &err), 0);
			assert_int_equal(strlen(c->status_file), n_a + 1);
		} else {
			assert_int_equal(config_parse_text(c, "t", text, strlen(text), &err), -EINVAL);
			assert_int_equal(err.line, 2);
			assert_non_null(strstr(err.message, "longer than 198"));
		}
		config_free(c);
	}
}

/* Values from the file are hostile; the one error line must be safe to print. */
static void test_error_string_escapes(void **state)
{
	static const char *const texts[] = {
		"[rules]\nallow = 10.0.0.1\x1b[2J\n",
		"[rules]\nexempt_interfaces = a\x1b]0;x\x07\n",
		"[agent]\n[x\x1b[31m]\n",
		"[agent]\nmo\rde = 1\n",
		"[agent]\nmode = \"\\\r\x7f\n",
		"[rules]\nallow = \342\200\2561.2.3.4\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct config *c = config_new();
		struct config_error err;
		char *s;

		assert_int_equal(config_parse_text(c, "/etc/\x1b.conf", texts[i], strlen(texts[i]), &err), -EINVAL);
		s = config_error_string(&err);
		assert_non_null(s);
		for (const unsigned char *p = (const unsigned char *)s; *p; p++)
			if (*p < 0x20 || *p == 0x7f || (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xae))
				fail_msg("case %zu: unsafe byte 0x%02x in: %s", i, *p, s);
		assert_non_null(strstr(s, "/etc/\\x1b.conf:2"));
		free(s);
		config_free(c);
	}
}

static void test_error_string_format(void **state)
{
	struct config_error err = { .file = "/etc/p.conf", .line = 7, .section = "rules", .key = "allow",
				    .value = "1.2.3.4/33", .message = "bad" };
	char *s;

	(void)state;
	s = config_error_string(&err);
	assert_string_equal(s, "/etc/p.conf:7: [rules] allow = \"1.2.3.4/33\": bad");
	free(s);
	err.key[0] = '\0';
	s = config_error_string(&err);
	assert_string_equal(s, "/etc/p.conf:7: [rules]: bad");
	free(s);
	err.section[0] = '\0';
	err.line = 0;
	s = config_error_string(&err);
	assert_string_equal(s, "/etc/p.conf: bad");
	free(s);
}

/* ---- origins and lists ---- */

static void test_origins_and_lists(void **state)
{
	const char *text =
		"[agent]\n"                             /* 1 */
		"mode = monitor\n"                      /* 2 */
		"mode = auto\n"                         /* 3: a scalar repeated: last wins */
		"[rules]\n"                             /* 4 */
		"allow = 10.0.0.0/8\n"                  /* 5 */
		"    192.168.0.0/16, fd53::/16\n"       /* 6: continuation appends */
		"allow = 172.16.0.0/12\n"               /* 7: repeated list key appends */
		"exempt_interfaces = wg0\n";            /* 8 */
	struct config *c = parse_ok(text);

	(void)state;
	assert_value(c, CONFIG_AGENT_MODE, "auto");
	assert_origin(c, CONFIG_AGENT_MODE, "t.conf", 3);
	assert_value(c, CONFIG_RULES_ALLOW, "10.0.0.0/8, 192.168.0.0/16, fd53::/16, 172.16.0.0/12");
	assert_int_equal(c->n_allow, 4);
	assert_origin(c, CONFIG_RULES_ALLOW, "t.conf", 7);
	assert_origin(c, CONFIG_RULES_EXEMPT_INTERFACES, "t.conf", 8);
	assert_origin(c, CONFIG_AGENT_LOG_LEVEL, NULL, 0);
	assert_int_equal(c->n_files, 1);
	assert_string_equal(c->files[0], "t.conf");

	/* A second file replaces lists instead of appending, key by key. */
	{
		const char *second = "[rules]\nallow = 192.0.2.0/24\n  198.51.100.0/24\n";
		struct config_error err;

		assert_int_equal(config_parse_text(c, "u.conf", second, strlen(second), &err), 0);
	}
	assert_value(c, CONFIG_RULES_ALLOW, "192.0.2.0/24, 198.51.100.0/24");
	assert_origin(c, CONFIG_RULES_ALLOW, "u.conf", 3);
	assert_value(c, CONFIG_RULES_EXEMPT_INTERFACES, "wg0");
	assert_origin(c, CONFIG_RULES_EXEMPT_INTERFACES, "t.conf", 8);
	assert_origin(c, CONFIG_AGENT_MODE, "t.conf", 3);
	assert_int_equal(c->n_files, 2);
	assert_string_equal(c->files[1], "u.conf");
	config_free(c);
}

static void test_empty_list_clears(void **state)
{
	struct config *c = parse_ok("[rules]\nallow = 10.0.0.0/8\n[capture]\ninterfaces = eth0\n");
	struct config_error err;
	const char *second = "[rules]\nallow =\n[capture]\ninterfaces = any\n";

	(void)state;
	assert_int_equal(config_parse_text(c, "u.conf", second, strlen(second), &err), 0);
	assert_int_equal(c->n_allow, 0);
	assert_int_equal(c->n_capture_interfaces, 0);
	assert_value(c, CONFIG_CAPTURE_INTERFACES, "any");
	config_free(c);
}

/* A failed list value leaves the previous list as it was. */
static void test_failed_list_keeps_previous(void **state)
{
	struct config *c = parse_ok("[rules]\nallow = 10.0.0.0/8\n");
	struct config_error err;
	const char *second = "[rules]\nallow = 192.0.2.0/24 bogus\n";

	(void)state;
	assert_int_equal(config_parse_text(c, "u.conf", second, strlen(second), &err), -EINVAL);
	assert_value(c, CONFIG_RULES_ALLOW, "10.0.0.0/8");
	config_free(c);
}

static void test_validate(void **state)
{
	struct config *c = parse_ok("[output]\nstatus_file = /run/x\n\nmetrics_file = /run/x\n");
	struct config_error err;

	(void)state;
	assert_int_equal(config_validate(c, &err), -EINVAL);
	assert_string_equal(err.file, "t.conf");
	assert_int_equal(err.line, 4);
	assert_string_equal(err.section, "output");
	assert_string_equal(err.key, "metrics_file");
	assert_string_equal(err.value, "/run/x");
	config_free(c);
}

/* ---- files ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *tpath(const char *rel)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return mkdir(tpath("conf.d"), 0755);
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_load_dropins_in_order(void **state)
{
	struct config *c = NULL;
	struct config_error err;
	char main_path[256];

	(void)state;
	write_file("main.conf", "[agent]\nmode = monitor\nlog_level = debug\n[rules]\nallow = 10.0.0.0/8\n");
	/* Byte order: "10-" < "20-" < "9-" < "a" < "b"; other names are ignored. */
	write_file("conf.d/20-b.conf", "[agent]\nmode = auto\n");
	write_file("conf.d/9-c.conf", "[agent]\n\nlog_format = json\n[rules]\nallow = 192.0.2.0/24\n");
	write_file("conf.d/10-a.conf", "[agent]\nmode = enforce\nlog_format = text\n");
	write_file("conf.d/a.conf.bak", "[agent]\nmode = broken\n");
	write_file("conf.d/.hidden.conf", "[agent]\nmode = broken\n");
	write_file("conf.d/README", "not ini at all\n");
	write_file("conf.d/b.CONF", "[agent]\nmode = broken\n");
	snprintf(main_path, sizeof(main_path), "%s", tpath("main.conf"));

	assert_int_equal(config_load(main_path, &c, &err), 0);
	assert_non_null(c);
	assert_int_equal(c->n_files, 4);
	assert_string_equal(c->files[0], main_path);
	assert_string_equal(c->files[1], tpath("conf.d/10-a.conf"));
	assert_string_equal(c->files[2], tpath("conf.d/20-b.conf"));
	assert_string_equal(c->files[3], tpath("conf.d/9-c.conf"));
	assert_value(c, CONFIG_AGENT_MODE, "auto");
	assert_origin(c, CONFIG_AGENT_MODE, tpath("conf.d/20-b.conf"), 2);
	assert_value(c, CONFIG_AGENT_LOG_FORMAT, "json");
	assert_origin(c, CONFIG_AGENT_LOG_FORMAT, tpath("conf.d/9-c.conf"), 3);
	assert_value(c, CONFIG_AGENT_LOG_LEVEL, "debug");
	assert_origin(c, CONFIG_AGENT_LOG_LEVEL, main_path, 3);
	assert_value(c, CONFIG_RULES_ALLOW, "192.0.2.0/24");
	assert_origin(c, CONFIG_RULES_ALLOW, tpath("conf.d/9-c.conf"), 5);
	assert_origin(c, CONFIG_CAPTURE_BUFFER_SIZE, NULL, 0);
	config_free(c);
}

static void test_load_errors(void **state)
{
	struct config *c = NULL;
	struct config_error err;
	char p[256];

	(void)state;
	/* An explicit main file must exist. */
	snprintf(p, sizeof(p), "%s", tpath("missing.conf"));
	assert_int_equal(config_load(p, &c, &err), -ENOENT);
	assert_null(c);
	assert_string_equal(err.file, p);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.message, "cannot read"));

	/* A directory where a file should be. */
	snprintf(p, sizeof(p), "%s", tpath("dir.conf"));
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(config_load(p, &c, &err), -EISDIR);
	assert_null(c);
	assert_string_equal(err.file, p);

	/* A dangling symlink given explicitly. */
	snprintf(p, sizeof(p), "%s", tpath("dangling.conf"));
	assert_int_equal(symlink("/nonexistent/port53guard.conf", p), 0);
	assert_int_equal(config_load(p, &c, &err), -ENOENT);
	assert_null(c);

	/* A drop-in that cannot be read is an error too, naming the drop-in. */
	write_file("ok.conf", "[agent]\nmode = monitor\n");
	snprintf(p, sizeof(p), "%s", tpath("conf.d/50-dir.conf"));
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(config_load(tpath("ok.conf"), &c, &err), -EISDIR);
	assert_null(c);
	assert_string_equal(err.file, tpath("conf.d/50-dir.conf"));
	assert_int_equal(rmdir(tpath("conf.d/50-dir.conf")), 0);

	assert_int_equal(symlink("/nonexistent/x.conf", tpath("conf.d/60-dangling.conf")), 0);
	assert_int_equal(config_load(tpath("ok.conf"), &c, &err), -ENOENT);
	assert_string_equal(err.file, tpath("conf.d/60-dangling.conf"));
	assert_int_equal(unlink(tpath("conf.d/60-dangling.conf")), 0);

	/* A syntax error in a drop-in names the drop-in and its line. */
	write_file("conf.d/70-bad.conf", "[agent]\n\nmode = sometimes\n");
	assert_int_equal(config_load(tpath("ok.conf"), &c, &err), -EINVAL);
	assert_null(c);
	assert_string_equal(err.file, tpath("conf.d/70-bad.conf"));
	assert_int_equal(err.line, 3);
	assert_string_equal(err.key, "mode");
	assert_string_equal(err.value, "sometimes");
	assert_int_equal(unlink(tpath("conf.d/70-bad.conf")), 0);

	/* Cross-key validation runs after every file. */
	write_file("conf.d/80-metrics.conf", "[output]\nmetrics_file = /run/port53guard/status.json\n");
	assert_int_equal(config_load(tpath("ok.conf"), &c, &err), -EINVAL);
	assert_null(c);
	assert_string_equal(err.file, tpath("conf.d/80-metrics.conf"));
	assert_int_equal(err.line, 2);
	assert_int_equal(unlink(tpath("conf.d/80-metrics.conf")), 0);

	assert_int_equal(config_load(tpath("ok.conf"), &c, &err), 0);
	assert_value(c, CONFIG_AGENT_MODE, "monitor");
	config_free(c);
}

/* The default path may be missing; only then can this be checked here. */
static void test_load_default_missing(void **state)
{
	struct config *c = NULL;
	struct config_error err;

	(void)state;
	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0 || errno != ENOENT)
		skip();
	assert_int_equal(config_load(NULL, &c, &err), 0);
	assert_non_null(c);
	assert_int_equal(c->n_files, 0);
	assert_value(c, CONFIG_AGENT_MODE, "enforce");
	config_free(c);
}

static void test_dump(void **state)
{
	struct config *c = parse_ok("[agent]\nmode = monitor\n[rules]\nallow = 10.0.0.0/8\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	config_dump(c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, "\n[agent]\nmode = monitor  ; from t.conf:2\n"));
	assert_non_null(strstr(buf, "\nlog_format = text  ; default\n"));
	assert_non_null(strstr(buf, "\n[rules]\n"));
	assert_non_null(strstr(buf, "\nallow = 10.0.0.0/8  ; from t.conf:4\n"));
	free(buf);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_error_string_escapes),
		cmocka_unit_test(test_error_string_format),
		cmocka_unit_test(test_origins_and_lists),
		cmocka_unit_test(test_empty_list_clears),
		cmocka_unit_test(test_failed_list_keeps_previous),
		cmocka_unit_test(test_validate),
		cmocka_unit_test_setup_teardown(test_load_dropins_in_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_errors, setup_dir, teardown_dir),
		cmocka_unit_test(test_load_default_missing),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
