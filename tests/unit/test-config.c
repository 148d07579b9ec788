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
		[CONFIG_RULES_POLICY_FORMAT] = "auto",
		[CONFIG_RULES_TABLE_OWNER] = "yes",
		[CONFIG_CAPTURE_INTERFACES] = "any",
		[CONFIG_CAPTURE_BUFFER_SIZE] = "4M",
		[CONFIG_CAPTURE_RESPONSES] = "yes",
		[CONFIG_CAPTURE_SAMPLE_ABOVE] = "10000",
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
		{ "[rules]\nkeep_on_stop = off\n", CONFIG_RULES_KEEP_ON_STOP, "no" },
		{ "[rules]\nkeep_on_stop = TRUE\n", CONFIG_RULES_KEEP_ON_STOP, "yes" },
		{ "[rules]\npolicy_file = /etc/port53guard/sg.json\n", CONFIG_RULES_POLICY_FILE,
		  "/etc/port53guard/sg.json" },
		{ "[rules]\npolicy_format = alibaba\n", CONFIG_RULES_POLICY_FORMAT, "alibaba" },
		{ "[rules]\ntable_owner = no\n", CONFIG_RULES_TABLE_OWNER, "no" },
		{ "[capture]\ninterfaces = eth0,eth1\n", CONFIG_CAPTURE_INTERFACES, "eth0, eth1" },
		{ "[capture]\ninterfaces = any\n", CONFIG_CAPTURE_INTERFACES, "any" },
		{ "[capture]\nbuffer_size = 256K\n", CONFIG_CAPTURE_BUFFER_SIZE, "256K" },
		{ "[capture]\nbuffer_size = 1g\n", CONFIG_CAPTURE_BUFFER_SIZE, "1G" },
		{ "[capture]\nbuffer_size = 300000\n", CONFIG_CAPTURE_BUFFER_SIZE, "300000" },
		{ "[capture]\nbuffer_size = 8MiB\n", CONFIG_CAPTURE_BUFFER_SIZE, "8M" },
		{ "[capture]\nresponses = 0\n", CONFIG_CAPTURE_RESPONSES, "no" },
		{ "[capture]\nsample_above = off\n", CONFIG_CAPTURE_SAMPLE_ABOVE, "off" },
		{ "[capture]\nsample_above = 50k\n", CONFIG_CAPTURE_SAMPLE_ABOVE, "50000" },
		{ "[capture]\nsample_above = 1M\n", CONFIG_CAPTURE_SAMPLE_ABOVE, "1000000" },
		{ "[capture]\nsample_above = 1000\n", CONFIG_CAPTURE_SAMPLE_ABOVE, "1000" },
		{ "[listeners]\nrescan_interval = 1h\n", CONFIG_LISTENERS_RESCAN_INTERVAL, "3600s" },
		{ "[listeners]\nnamespaces = no\n", CONFIG_LISTENERS_NAMESPACES, "no" },
		{ "[output]\nstatus_file = /tmp/s.json\n", CONFIG_OUTPUT_STATUS_FILE, "/tmp/s.json" },
		{ "[output]\nmetrics_file = /tmp/m.prom\n", CONFIG_OUTPUT_METRICS_FILE, "/tmp/m.prom" },
		/* Comments, blank lines, CRLF, a byte order mark, inline ';' comments. */
		{ "# c\n; c\n\n[agent]\r\nmode = monitor\r\n", CONFIG_AGENT_MODE, "monitor" },
		{ "\xef\xbb\xbf[agent]\nmode = auto\n", CONFIG_AGENT_MODE, "auto" },
		{ "[agent]\nmode = auto ; the default is enforce\n", CONFIG_AGENT_MODE, "auto" },
		{ "[agent]\nmode = auto", CONFIG_AGENT_MODE, "auto" },
		/* '#' and ';' start a comment alike, after white space or at the
		 * start of a line, on every kind of line; never a list item. */
		{ "[rules]\nexempt_interfaces = docker0   # not eth0 (uplink)\n", CONFIG_RULES_EXEMPT_INTERFACES,
		  "docker0" },
		{ "[rules]\nexempt_interfaces = docker0 ; not eth0 (uplink)\n", CONFIG_RULES_EXEMPT_INTERFACES,
		  "docker0" },
		{ "[rules]\nexempt_interfaces = docker0\t#eth0\n", CONFIG_RULES_EXEMPT_INTERFACES, "docker0" },
		{ "[rules]\nexempt_interfaces = wg0 # vpn\n  docker0 # not eth0\n  ; eth1\n  # eth2\n  br0;x\n",
		  CONFIG_RULES_EXEMPT_INTERFACES, "wg0, docker0, br0;x" },
		{ "[rules]\nexempt_interfaces = # none yet\n", CONFIG_RULES_EXEMPT_INTERFACES, "" },
		{ "[rules]\nexempt_interfaces = a#b\n", CONFIG_RULES_EXEMPT_INTERFACES, "a#b" },
		{ "[rules]\nallow = 10.0.0.0/8\t# office\n  192.0.2.0/24 ; lab\n    # 198.51.100.0/24\n",
		  CONFIG_RULES_ALLOW, "10.0.0.0/8, 192.0.2.0/24" },
		{ "[rules] # the rule\nprotocols = udp # tcp\n", CONFIG_RULES_PROTOCOLS, "udp" },
		{ "[agent] ; x\nmode = auto# not a comment: no blank before it\n", CONFIG_AGENT_MODE, NULL },
		{ "[rules]\npolicy_file = /etc/sg#1.json  # the exported groups\n", CONFIG_RULES_POLICY_FILE,
		  "/etc/sg#1.json" },
		{ "\xef\xbb\xbf# c\n[agent]\nmode = monitor\n", CONFIG_AGENT_MODE, "monitor" },
		{ "[capture]\ninterfaces = any # for now\n", CONFIG_CAPTURE_INTERFACES, "any" },
		/* Interface names: 15 bytes, a trailing '*' for a prefix. */
		{ "[rules]\nexempt_interfaces = abcdefghijklmno\n", CONFIG_RULES_EXEMPT_INTERFACES, "abcdefghijklmno" },
		{ "[rules]\nexempt_interfaces = abcdefghijklmn*\n", CONFIG_RULES_EXEMPT_INTERFACES, "abcdefghijklmn*" },
		{ "[capture]\ninterfaces = eth0.100 br-1a2b vlan@x\n", CONFIG_CAPTURE_INTERFACES, "eth0.100, br-1a2b, vlan@x" },
		/* Scalars may repeat across files (conf.d), lists append in one. */
		{ "[rules]\nallow = 192.0.2.0/24\nallow = 198.51.100.0/24\n", CONFIG_RULES_ALLOW,
		  "192.0.2.0/24, 198.51.100.0/24" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c;
		struct config_error err;

		if (!cases[i].value) {
			/* not a comment: the value holds it, and is wrong */
			c = config_new();
			assert_int_equal(config_parse_text(c, "t", cases[i].text, strlen(cases[i].text), &err),
					 -EINVAL);
			assert_string_equal(err.value, "auto# not a comment: no blank before it");
			config_free(c);
			continue;
		}
		c = parse_ok(cases[i].text);
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
		{ "[rules]\npolicy_format = Tencent\n", 0, -EINVAL, 2, "rules", "policy_format", "Tencent",
		  "expected auto, tencent, alibaba, huawei or aws" },
		{ "[capture]\nresponses =\n", 0, -EINVAL, 2, "capture", "responses", "", "yes or no" },
		{ "[rules]\ntable_owner = mine\n", 0, -EINVAL, 2, "rules", "table_owner", "mine", "yes or no" },
		{ "[rules]\ninternal_interfaces = br/0\n", 0, -EINVAL, 2, "rules", "internal_interfaces", "br/0",
		  "not an interface name" },
		{ "[rules]\ninternal_interfaces =\n", 0, -EINVAL, 2, "rules", "internal_interfaces", "",
		  "expected auto, none or interface names" },
		{ "[rules]\ninternal_interfaces = none\ninternal_interfaces = auto\n", 0, -EINVAL, 3, "rules",
		  "internal_interfaces", "auto", "set twice in this file, on line 2 and on line 3" },
		{ "[rules]\nexempt_interfaces = eth0/1\n", 0, -EINVAL, 2, "rules", "exempt_interfaces", "eth0/1",
		  "not an interface name" },
		{ "[rules]\nexempt_interfaces = averyveryverylongname\n", 0, -EINVAL, 2, "rules",
		  "exempt_interfaces", "averyveryverylongname", "not an interface name" },
		{ "[capture]\ninterfaces = et*h0\n", 0, -EINVAL, 2, "capture", "interfaces", "et*h0",
		  "not an interface name" },
		{ "[capture]\ninterfaces = *\n", 0, -EINVAL, 2, "capture", "interfaces", "*", "would match every interface" },
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
		"log_level = debug\n"                   /* 3 */
		"[rules]\n"                             /* 4 */
		"allow = 10.0.0.0/8\n"                  /* 5 */
		"    192.168.0.0/16, fd53::/16\n"       /* 6: continuation appends */
		"allow = 172.16.0.0/12\n"               /* 7: repeated list key appends */
		"exempt_interfaces = wg0\n";            /* 8 */
	struct config *c = parse_ok(text);

	(void)state;
	assert_value(c, CONFIG_AGENT_MODE, "monitor");
	assert_origin(c, CONFIG_AGENT_MODE, "t.conf", 2);
	assert_origin(c, CONFIG_AGENT_LOG_LEVEL, "t.conf", 3);
	assert_value(c, CONFIG_RULES_ALLOW, "10.0.0.0/8, 192.168.0.0/16, fd53::/16, 172.16.0.0/12");
	assert_int_equal(c->n_allow, 4);
	assert_origin(c, CONFIG_RULES_ALLOW, "t.conf", 7);
	/* Each entry knows its own line. */
	assert_int_equal(c->allow_line[0], 5);
	assert_int_equal(c->allow_line[1], 6);
	assert_int_equal(c->allow_line[2], 6);
	assert_int_equal(c->allow_line[3], 7);
	assert_origin(c, CONFIG_RULES_EXEMPT_INTERFACES, "t.conf", 8);
	assert_int_equal(c->exempt_line[0], 8);
	assert_origin(c, CONFIG_AGENT_LOG_FORMAT, NULL, 0);
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
	assert_int_equal(c->allow_line[0], 2);
	assert_int_equal(c->allow_line[1], 3);
	assert_value(c, CONFIG_RULES_EXEMPT_INTERFACES, "wg0");
	assert_origin(c, CONFIG_RULES_EXEMPT_INTERFACES, "t.conf", 8);
	assert_origin(c, CONFIG_AGENT_MODE, "t.conf", 2);
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

/* ---- exact error lines: inline comments, names, repeats, long lines ---- */

/* parse, then validate when parsing succeeded; the one error line must be
 * exactly want. */
static void assert_error_line(const char *text, const char *want)
{
	struct config *c = config_new();
	struct config_error err;
	char *line;
	int r;

	assert_non_null(c);
	r = config_parse_text(c, "/etc/x.conf", text, strlen(text), &err);
	if (r == 0)
		r = config_validate(c, &err);
	if (r != -EINVAL)
		fail_msg("\"%s\": returned %d, expected -EINVAL", text, r);
	line = config_error_string(&err);
	assert_non_null(line);
	if (strcmp(line, want) != 0)
		fail_msg("\"%s\":\n got: %s\nwant: %s", text, line, want);
	free(line);
	config_free(c);
}

static char long_value[512], long_value_want[512];

static void test_error_lines(void **state)
{
	static const struct {
		const char *text, *line;
	} cases[] = {
		/* a comment glued to a list item would become one */
		{ "[rules]\nexempt_interfaces = docker0,# not eth0\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"docker0,# not eth0\": "
		  "\"#\" looks like a comment: put white space before '#' or ';'" },
		{ "[rules]\nallow = 10.0.0.0/8,;x\n",
		  "/etc/x.conf:2: [rules] allow = \"10.0.0.0/8,;x\": \";x\" looks like a comment: put white space before '#' or ';'" },
		/* interface names, every list key */
		{ "[rules]\nexempt_interfaces = *\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"*\": \"*\" would match every interface, the uplink too: name them" },
		{ "[capture]\ninterfaces = eth0 *\n",
		  "/etc/x.conf:2: [capture] interfaces = \"eth0 *\": \"*\" would match every interface, the uplink too: name them" },
		{ "[rules]\nexempt_interfaces = abcdefghijklmnop\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"abcdefghijklmnop\": \"abcdefghijklmnop\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[rules]\nexempt_interfaces = abcdefghijklmno*\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"abcdefghijklmno*\": \"abcdefghijklmno*\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[rules]\nexempt_interfaces = eth0:1\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"eth0:1\": \"eth0:1\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[capture]\ninterfaces = 'eth0'\n",
		  "/etc/x.conf:2: [capture] interfaces = \"'eth0'\": \"'eth0'\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[capture]\ninterfaces = \"eth0\"\n",
		  "/etc/x.conf:2: [capture] interfaces = \"\\\"eth0\\\"\": \"\\\"eth0\\\"\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[rules]\nexempt_interfaces = ..\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"..\": \"..\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[rules]\nexempt_interfaces = e*th*\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"e*th*\": \"e*th*\" is not an interface "
		  "name (at most 15 bytes, no / : \" ' \\, '*' only at the end)" },
		{ "[rules]\nexempt_interfaces = et\x01h0\n",
		  "/etc/x.conf:2: [rules] exempt_interfaces = \"et\\x01h0\": \"et\\x01h0\" is not an interface name: "
		  "it holds a control or non-ASCII byte" },
		/* a scalar repeated in one file names both lines */
		{ "[agent]\nmode = monitor\nlog_level = debug\nmode = enforce\n",
		  "/etc/x.conf:4: [agent] mode = \"enforce\": set twice in this file, on line 2 and on line 4: keep one" },
		{ "[output]\nmetrics_file = /run/a.prom\n[agent]\n[output]\nmetrics_file = /run/a.prom\n",
		  "/etc/x.conf:5: [output] metrics_file = \"/run/a.prom\": set twice in this file, on line 2 and on line 5: "
		  "keep one" },
		{ "[agent]\nmode = monitor\n  enforce\n",
		  "/etc/x.conf:3: [agent] mode = \"enforce\": an indented line continues the value of line 2, "
		  "but this key takes one value" },
		/* an indented key would silently be list items */
		{ "[rules]\nexempt_interfaces = wg0\n    keep_on_stop = no\n",
		  "/etc/x.conf:3: indented key (start it at the beginning of the line; an indented line continues the "
		  "list above)" },
		/* allow covering a whole family: refused, alone or as a union */
		{ "[rules]\nallow = 0.0.0.0/0\n",
		  "/etc/x.conf:2: [rules] allow = \"0.0.0.0/0\": allows all of IPv4 (0.0.0.0/0), so UDP:53 would be "
		  "refused from no one; a host that may answer everyone runs mode = monitor" },
		{ "[rules]\nallow = 192.0.2.0/24\n  ::/0\n",
		  "/etc/x.conf:3: [rules] allow = \"::/0\": allows all of IPv6 (::/0), so UDP:53 would be "
		  "refused from no one; a host that may answer everyone runs mode = monitor" },
		{ "[rules]\nallow = 0.0.0.0/1\nallow = 128.0.0.0/1\n",
		  "/etc/x.conf:3: [rules] allow = \"128.0.0.0/1\": with the other entries, allows all of IPv4 (0.0.0.0/0), "
		  "so UDP:53 would be refused from no one; a host that may answer everyone runs mode = monitor" },
		/* out of order, overlapping, nested, with a host route at the very end */
		{ "[rules]\nallow = 128.0.0.0/2, 10.0.0.0/8\n  192.0.0.0/3 0.0.0.0/1 224.0.0.0/4\n"
		  "  240.0.0.0/5 248.0.0.0/5 255.255.255.255\n",
		  "/etc/x.conf:4: [rules] allow = \"248.0.0.0/5\": with the other entries, allows all of IPv4 (0.0.0.0/0), "
		  "so UDP:53 would be refused from no one; a host that may answer everyone runs mode = monitor" },
		{ "[rules]\nallow = 8000::/1 ::/2 4000::/2\n",
		  "/etc/x.conf:2: [rules] allow = \"8000::/1\": with the other entries, allows all of IPv6 (::/0), "
		  "so UDP:53 would be refused from no one; a host that may answer everyone runs mode = monitor" },
		/* a value line over the limit, with the limit in the message */
		{ long_value, long_value_want },
	};

	(void)state;
	snprintf(long_value, sizeof(long_value), "[output]\nstatus_file = /%0184d # a short comment\n", 0);
	snprintf(long_value_want, sizeof(long_value_want), "/etc/x.conf:2: line longer than 198 characters "
		 "(not counting a comment): continue a list on indented lines");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_error_line(cases[i].text, cases[i].line);
}

/* Near misses of the cover are allowed: one address or one block short. */
static void test_allow_not_everything(void **state)
{
	static const char *const texts[] = {
		"[rules]\nallow = 0.0.0.0/1\n",
		"[rules]\nallow = 0.0.0.0/1, 128.0.0.0/2, 192.0.0.0/3, 224.0.0.0/4, 240.0.0.0/5, 248.0.0.0/6\n",
		"[rules]\nallow = 0.0.0.0/1, 128.0.0.1/32, 128.0.0.2/31, 128.0.0.4/30, 128.0.0.8/29\n",
		/* IPv4 entries never cover IPv6, nor the other way round */
		"[rules]\nallow = 0.0.0.0/1 8000::/1\n  ::ffff:128.0.0.0/97\n",
		"[rules]\nallow = ::/1\nallow = 8000::/2\n  # c000::/2\n",  /* commented out: no cover */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct config *c = parse_ok(texts[i]);
		struct config_error err;

		if (config_validate(c, &err) != 0)
			fail_msg("case %zu refused: %s", i, err.message);
		config_free(c);
	}
}

/* Only the later file counts: a file may not cover everything through a list
 * the next one replaces, and a later file that covers everything is refused
 * with its own name and line. */
static void test_allow_everything_across_files(void **state)
{
	struct config *c = parse_ok("[rules]\nallow = 0.0.0.0/1\n");
	const char *second = "[rules]\nallow = 128.0.0.0/1\n";
	const char *third = "\n[rules]\nallow = 0.0.0.0/1, 128.0.0.0/1\n";
	struct config_error err;

	(void)state;
	assert_int_equal(config_parse_text(c, "u.conf", second, strlen(second), &err), 0);
	assert_int_equal(config_validate(c, &err), 0);
	assert_int_equal(config_parse_text(c, "v.conf", third, strlen(third), &err), 0);
	assert_int_equal(config_validate(c, &err), -EINVAL);
	assert_string_equal(err.file, "v.conf");
	assert_int_equal(err.line, 3);
	assert_string_equal(err.value, "128.0.0.0/1");
	config_free(c);
}

/* Comment lines of any length; the limit is on content only. */
static void test_long_comments(void **state)
{
	static const char *const forms[] = {
		"# %s\n", "; %s\n", "    # %s\n", "mode = auto # %s\n", "mode = auto\t; %s\n",
	};
	char filler[4097], text[8192];

	(void)state;
	memset(filler, 'x', sizeof(filler) - 1);
	filler[sizeof(filler) - 1] = '\0';
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		for (size_t len = 190; len <= 4096; len = len * 2 + 3) {
			struct config *c;
			int n = snprintf(text, sizeof(text), "[agent]\n%s", i < 3 ? "mode = auto\n" : "");

			n += snprintf(text + n, sizeof(text) - (size_t)n, forms[i], filler + 4096 - len);
			snprintf(text + n, sizeof(text) - (size_t)n, "log_level = debug\n");
			c = parse_ok(text);
			assert_value(c, CONFIG_AGENT_MODE, "auto");
			assert_value(c, CONFIG_AGENT_LOG_LEVEL, "debug");
			assert_origin(c, CONFIG_AGENT_LOG_LEVEL, "t.conf", 4 - (i >= 3));
			config_free(c);
		}
}

/* ---- warnings ---- */

struct warnings {
	char *lines[8];
	size_t n;
};

static void collect(const struct config_warning *w, void *userdata)
{
	struct warnings *ws = userdata;

	assert_true(ws->n < 8);
	ws->lines[ws->n] = config_warning_string(w);
	assert_non_null(ws->lines[ws->n]);
	ws->n++;
}

static void test_warnings(void **state)
{
	static const struct {
		const char *text;
		unsigned flags;
		const char *want[4];
	} cases[] = {
		{ "[rules]\nallow = 10.0.0.0/8, 2001:db8::/32, 192.0.2.1\n", CONFIG_WARN_INTERFACES, { NULL } },
		{ "[rules]\nallow = 10.0.0.0/8\n  10.0.0.0/7 # too broad\n  2001:db8::/31\n", 0,
		  { "allow_broad: t.conf:3: [rules] allow = \"10.0.0.0/7\": a broad allow entry (shorter than /8): "
		    "every address in it may query this host's DNS",
		    "allow_broad: t.conf:4: [rules] allow = \"2001:db8::/31\": a broad allow entry (shorter than /32): "
		    "every address in it may query this host's DNS" } },
		{ "[rules]\nallow = 0.0.0.0/1\n", 0,
		  { "allow_broad: t.conf:2: [rules] allow = \"0.0.0.0/1\": a broad allow entry (shorter than /8): "
		    "every address in it may query this host's DNS" } },
		/* "lo" is in every network namespace; prefixes are not looked up */
		{ "[rules]\nexempt_interfaces = lo p53nosuch*\n", CONFIG_WARN_INTERFACES, { NULL } },
		{ "[rules]\nexempt_interfaces = lo\n  p53nosuch9\n", CONFIG_WARN_INTERFACES,
		  { "exempt_interface_missing: t.conf:3: [rules] exempt_interfaces = \"p53nosuch9\": no such "
		    "interface here now; the exemption applies once it appears" } },
		{ "[rules]\nexempt_interfaces = p53nosuch9\n", 0, { NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = parse_ok(cases[i].text);
		struct warnings ws = { .n = 0 };
		size_t want = 0;
		int n;

		while (want < 4 && cases[i].want[want])
			want++;
		n = config_warnings(c, cases[i].flags, collect, &ws);
		assert_int_equal(n, (int)ws.n);
		if (ws.n != want)
			fail_msg("case %zu: %zu warnings, expected %zu (first: %s)", i, ws.n, want,
				 ws.n ? ws.lines[0] : "none");
		for (size_t j = 0; j < ws.n; j++) {
			if (strcmp(ws.lines[j], cases[i].want[j]) != 0)
				fail_msg("case %zu:\n got: %s\nwant: %s", i, ws.lines[j], cases[i].want[j]);
			free(ws.lines[j]);
		}
		assert_int_equal(config_warnings(c, cases[i].flags, NULL, NULL), (int)want);
		config_free(c);
	}
}

/* A typo of an existing name gets a suggestion: "lo" exists everywhere. */
static void test_warning_suggests(void **state)
{
	struct config *c = parse_ok("[rules]\nexempt_interfaces = lo0\n");
	struct warnings ws = { .n = 0 };

	(void)state;
	assert_int_equal(config_warnings(c, CONFIG_WARN_INTERFACES, collect, &ws), 1);
	assert_non_null(strstr(ws.lines[0], "exempt_interface_missing: t.conf:2: "));
	assert_non_null(strstr(ws.lines[0], "exempt_interfaces = \"lo0\": no such interface here now (did you mean \""));
	free(ws.lines[0]);
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
		cmocka_unit_test(test_error_lines),
		cmocka_unit_test(test_allow_not_everything),
		cmocka_unit_test(test_allow_everything_across_files),
		cmocka_unit_test(test_long_comments),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_warning_suggests),
		cmocka_unit_test_setup_teardown(test_load_dropins_in_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_errors, setup_dir, teardown_dir),
		cmocka_unit_test(test_load_default_missing),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
