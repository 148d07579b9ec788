/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hostile values through log_render in both formats: the line must stay one
 * terminal-safe line, and every value must read back to exactly its bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

struct bytes {
	char *p;
	size_t len;
};

static const struct timespec ts_fixed = { .tv_sec = 0, .tv_nsec = 123456789 };
#define TS_TEXT "1970-01-01T00:00:00.123Z"

/* ---- what a terminal or a log shipper would see ---- */

/* Length of one well-formed UTF-8 sequence at s (shortest form, no
 * surrogates, at most U+10FFFF) and its code point, or 0. Written here
 * independently of log.c so the two can disagree. */
static size_t utf8_decode(const uint8_t *s, size_t left, uint32_t *ret_cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		   (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp;

	if (n == 0 || n > left)
		return 0;
	cp = n == 1 ? s[0] : s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

static bool cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* One line, valid UTF-8, and no control, C1 or bidi character but the final '\n'. */
static void assert_terminal_safe(const char *line)
{
	const uint8_t *u = (const uint8_t *)line;
	size_t len = strlen(line);

	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	for (size_t i = 0; i < len - 1;) {
		uint32_t cp;
		size_t n = utf8_decode(u + i, len - 1 - i, &cp);

		if (n == 0 || cp_unsafe(cp))
			fail_msg("unsafe byte 0x%02x at %zu in: %s", u[i], i, line);
		i += n;
	}
}

/* ---- reading values back ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes "\xHH" at s into *out; returns the characters used or 0. */
static size_t unhex(const char *s, size_t left, char *out)
{
	int hi, lo;

	if (left < 4 || s[0] != '\\' || s[1] != 'x')
		return 0;
	hi = hexval(s[2]);
	lo = hexval(s[3]);
	if (hi < 0 || lo < 0)
		return 0;
	*out = (char)(hi << 4 | lo);
	return 4;
}

/* One text-format value at *pp: bare (no quote, backslash or space) or
 * "quoted" with \\ \" \n \r \t \xHH. Returns false on anything ambiguous. */
static bool text_value_decode(const char **pp, struct bytes *out)
{
	const char *p = *pp;
	bool quoted = *p == '"';

	out->p = malloc(strlen(p) + 1);
	out->len = 0;
	if (!out->p)
		return false;
	if (quoted)
		p++;
	for (;;) {
		char c = *p;
		size_t n;

		if (c == '\0') {
			if (quoted)
				return false;   /* unterminated */
			break;
		}
		if (!quoted && c == ' ')
			break;
		if (quoted && c == '"') {
			p++;
			break;
		}
		if (!quoted && (c == '"' || c == '\\' || c == '='))
			return false;
		if (c != '\\') {
			out->p[out->len++] = c;
			p++;
			continue;
		}
		n = unhex(p, strlen(p), &out->p[out->len]);
		if (n) {
			out->len++;
			p += n;
			continue;
		}
		switch (p[1]) {
		case '\\': out->p[out->len++] = '\\'; break;
		case '"': out->p[out->len++] = '"'; break;
		case 'n': out->p[out->len++] = '\n'; break;
		case 'r': out->p[out->len++] = '\r'; break;
		case 't': out->p[out->len++] = '\t'; break;
		default: return false;
		}
		p += 2;
	}
	if (*p != ' ' && *p != '\0')
		return false;
	*pp = p;
	return true;
}

#define MAX_FIELDS 8

struct fields {
	char *key[MAX_FIELDS];
	struct bytes val[MAX_FIELDS];
	size_t n;
};

static void fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->key[i]);
		free(f->val[i].p);
	}
	f->n = 0;
}

/* "TS LEVEL event=NAME k=v k=v...\n" into fields (event included). */
static void text_line_decode(const char *line, const char *level, struct fields *f)
{
	size_t len = strlen(line);
	char *copy = strndup(line, len - 1);
	const char *p = copy;
	char prefix[64];

	assert_non_null(copy);
	snprintf(prefix, sizeof(prefix), "%s %s ", TS_TEXT, level);
	assert_memory_equal(p, prefix, strlen(prefix));
	p += strlen(prefix);
	f->n = 0;
	while (*p) {
		const char *eq = strchr(p, '=');

		assert_non_null(eq);
		assert_true(f->n < MAX_FIELDS);
		f->key[f->n] = strndup(p, (size_t)(eq - p));
		p = eq + 1;
		if (!text_value_decode(&p, &f->val[f->n])) {
			free(f->key[f->n]);
			free(f->val[f->n].p);
			fail_msg("ambiguous text value in: %s", line);
		}
		f->n++;
		if (*p == ' ')
			p++;
	}
	free(copy);
}

/* The layer under JSON: \\ and \xHH, everything else as is. */
static void json_layer_decode(const char *s, size_t len, struct bytes *out)
{
	out->p = malloc(len + 1);
	out->len = 0;
	assert_non_null(out->p);
	for (size_t i = 0; i < len;) {
		size_t n;

		if (s[i] != '\\') {
			out->p[out->len++] = s[i++];
			continue;
		}
		n = unhex(s + i, len - i, &out->p[out->len]);
		if (n) {
			out->len++;
			i += n;
		} else if (i + 1 < len && s[i + 1] == '\\') {
			out->p[out->len++] = '\\';
			i += 2;
		} else {
			fail_msg("lone backslash in JSON value layer: %.*s", (int)len, s);
		}
	}
}

static void assert_bytes_equal(const struct bytes *got, const char *want, size_t want_len)
{
	if (got->len != want_len || memcmp(got->p, want, want_len) != 0)
		fail_msg("value read back as %zu bytes, expected %zu", got->len, want_len);
}

/* ---- the table ---- */

struct hostile {
	const char *in;
	size_t len;
	const char *text;       /* expected text-format value, NULL: checked by round trip only */
};

#define H(lit, expect) { lit, sizeof(lit) - 1, expect }

static const struct hostile hostile[] = {
	H("plain", "plain"),
	H("", "\"\""),
	H("two words", "\"two words\""),
	H(" ", "\" \""),
	H("trailing ", "\"trailing \""),
	H("a=b", "\"a=b\""),
	H("=", "\"=\""),
	H("line\nbreak", "\"line\\nbreak\""),
	H("cr\rhere", "\"cr\\rhere\""),
	H("tab\there", "\"tab\\there\""),
	H("\x1b[2J", "\"\\x1b[2J\""),
	H("\x1b]0;title\x07", "\"\\x1b]0;title\\x07\""),
	H("a\0b", "\"a\\x00b\""),
	H("\0", "\"\\x00\""),
	H("\0\0\n", "\"\\x00\\x00\\n\""),
	H("say \"hi\"", "\"say \\\"hi\\\"\""),
	H("\"", "\"\\\"\""),
	H("it's", "it's"),
	H("C:\\path\\", "\"C:\\\\path\\\\\""),
	H("\\x41", "\"\\\\x41\""),
	H("\\\"", "\"\\\\\\\"\""),
	H("\x7f", "\"\\x7f\""),
	H("\x80", "\"\\x80\""),
	H("\xc0\xaf", "\"\\xc0\\xaf\""),
	H("\xe0\x80\xaf", "\"\\xe0\\x80\\xaf\""),
	H("\xed\xa0\x80", "\"\\xed\\xa0\\x80\""),
	H("\xe2\x82", "\"\\xe2\\x82\""),
	H("x\xe2\x82", "\"x\\xe2\\x82\""),
	H("\xf0\x9f\x98", "\"\\xf0\\x9f\\x98\""),
	H("\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\""),
	H("\xff\xfe", "\"\\xff\\xfe\""),
	H("\xc2\x85", "\"\\xc2\\x85\""),
	H("\302\2332J", "\"\\xc2\\x9b2J\""),
	H("abc\342\200\256gpj.exe", "\"abc\\xe2\\x80\\xaegpj.exe\""),
	H("\xe2\x80\xa8", "\"\\xe2\\x80\\xa8\""),
	H("\xe2\x81\xa6", "\"\\xe2\\x81\\xa6\""),
	H("caf\xc3\xa9", "caf\xc3\xa9"),
	H("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"),
	H("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"),
	H("\xc2\xa0", "\xc2\xa0"),
	H("\xef\xbf\xbd", "\xef\xbf\xbd"),
	H("-", "-"),
	H("key=\"v\" other=x\n", "\"key=\\\"v\\\" other=x\\n\""),
};

/* Renders fields a (the hostile value as bytes), b (the same as a string
 * when it holds no NUL), n (a number) and z (a fixed end marker). in must
 * be NUL-terminated at len. */
static size_t make_kv(struct log_kv *kv, const char *in, size_t len)
{
	size_t n = 0;

	kv[n++] = LOG_BYTES("a", in, len);
	if (strlen(in) == len)
		kv[n++] = LOG_STR("b", in);
	kv[n++] = LOG_INT("n", -5);
	kv[n++] = LOG_STR("z", "end");
	return n;
}

static void check_text_z(const char *in, size_t len, const char *expect)
{
	struct log_kv kv[4];
	size_t n = make_kv(kv, in, len);
	char *line = log_render(LOG_FORMAT_TEXT, &ts_fixed, LOG_LEVEL_INFO, "test", kv, n);
	struct fields f = { 0 };

	assert_non_null(line);
	assert_terminal_safe(line);
	if (expect) {
		const char *at = strstr(line, " a=");

		assert_non_null(at);
		if (strncmp(at + 3, expect, strlen(expect)) != 0 || at[3 + strlen(expect)] != ' ')
			fail_msg("value rendered as %s, expected %s", at + 3, expect);
	}
	text_line_decode(line, "info", &f);
	assert_int_equal(f.n, n + 1);
	assert_string_equal(f.key[0], "event");
	assert_bytes_equal(&f.val[0], "test", 4);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(f.key[i + 1], kv[i].key);
	assert_bytes_equal(&f.val[1], in, len);
	if (n == 4)
		assert_bytes_equal(&f.val[2], in, len);
	assert_bytes_equal(&f.val[n - 1], "-5", 2);
	assert_bytes_equal(&f.val[n], "end", 3);
	fields_free(&f);
	free(line);
}

static void check_json_field(json_t *o, const char *key, const char *in, size_t len)
{
	json_t *v = json_object_get(o, key);
	struct bytes got;

	assert_non_null(v);
	assert_true(json_is_string(v));
	json_layer_decode(json_string_value(v), json_string_length(v), &got);
	assert_bytes_equal(&got, in, len);
	free(got.p);
}

static void check_json_z(const char *in, size_t len)
{
	struct log_kv kv[4];
	size_t n = make_kv(kv, in, len);
	char *line = log_render(LOG_FORMAT_JSON, &ts_fixed, LOG_LEVEL_WARNING, "test", kv, n);
	json_error_t jerr;
	json_t *o;

	assert_non_null(line);
	assert_terminal_safe(line);
	o = json_loadb(line, strlen(line), JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		fail_msg("JSON does not parse (%s): %s", jerr.text, line);
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 3 + n);
	assert_string_equal(json_string_value(json_object_get(o, "ts")), TS_TEXT);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warning");
	assert_string_equal(json_string_value(json_object_get(o, "event")), "test");
	check_json_field(o, "a", in, len);
	if (n == 4)
		check_json_field(o, "b", in, len);
	assert_true(json_is_integer(json_object_get(o, "n")));
	assert_int_equal(json_integer_value(json_object_get(o, "n")), -5);
	check_json_field(o, "z", "end", 3);
	json_decref(o);
	free(line);
}

static char *dup_z(const char *in, size_t len)
{
	char *z = malloc(len + 1);

	assert_non_null(z);
	memcpy(z, in, len);
	z[len] = '\0';
	return z;
}

static void check_text(const char *in, size_t len, const char *expect)
{
	char *z = dup_z(in, len);

	check_text_z(z, len, expect);
	free(z);
}

static void check_json(const char *in, size_t len)
{
	char *z = dup_z(in, len);

	check_json_z(z, len);
	free(z);
}

static void test_hostile_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		print_message("case %zu\n", i);
		check_text(hostile[i].in, hostile[i].len, hostile[i].text);
		check_json(hostile[i].in, hostile[i].len);
	}
}

static void test_every_byte(void **state)
{
	char all[256];

	(void)state;
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	check_text(all, sizeof(all), NULL);
	check_json(all, sizeof(all));
	for (size_t i = 0; i < sizeof(all); i++) {
		check_text(all + i, 1, NULL);
		check_json(all + i, 1);
	}
}

/* Random short strings drawn mostly from the bytes that matter: controls,
 * quotes, backslashes, '=', space, 'x', digits and UTF-8 lead/continuation bytes. */
static void test_random(void **state)
{
	static const char alphabet[] = "\0\n\r\t\x1b\x7f\"\\= x0a"
		"\x80\x85\x9b\xa0\xae\xaf\xbf\xc0\xc2\xc3\xe2\xed\xef\xf0\xf4\xff";
	uint32_t seed = 53;
	char buf[48];

	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t len;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		check_text(buf, len, NULL);
		check_json(buf, len);
	}
}

static void test_null_and_numbers(void **state)
{
	const struct log_kv kv[] = {
		LOG_STR("s", NULL),
		LOG_BYTES("b", NULL, 5),
		LOG_INT("i", INT64_MIN),
		LOG_UINT("u", UINT64_MAX),
		LOG_BOOL("t", 1),
		LOG_BOOL("f", 0),
	};
	char *t = log_render(LOG_FORMAT_TEXT, &ts_fixed, LOG_LEVEL_DEBUG, "nums", kv, 6);
	char *j = log_render(LOG_FORMAT_JSON, &ts_fixed, LOG_LEVEL_DEBUG, "nums", kv, 6);
	json_t *o;

	(void)state;
	assert_string_equal(t, TS_TEXT " debug event=nums s=- b=\"\" i=-9223372036854775808 "
			    "u=18446744073709551615 t=yes f=no\n");
	/* u is beyond jansson's int64: numbers are read as reals, so compare
	 * the integer literals in the text itself. */
	o = json_loads(j, JSON_DECODE_INT_AS_REAL, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "s")), "-");
	assert_string_equal(json_string_value(json_object_get(o, "b")), "");
	assert_true(json_is_real(json_object_get(o, "u")));
	assert_non_null(strstr(j, ",\"i\":-9223372036854775808,"));
	assert_non_null(strstr(j, ",\"u\":18446744073709551615,"));
	assert_string_equal(json_string_value(json_object_get(o, "t")), "yes");
	json_decref(o);
	free(t);
	free(j);
}

static void test_no_fields(void **state)
{
	char *t = log_render(LOG_FORMAT_TEXT, &ts_fixed, LOG_LEVEL_ERROR, "bare", NULL, 0);
	char *j = log_render(LOG_FORMAT_JSON, &ts_fixed, LOG_LEVEL_ERROR, "bare", NULL, 0);

	(void)state;
	assert_string_equal(t, TS_TEXT " error event=bare\n");
	assert_string_equal(j, "{\"ts\":\"" TS_TEXT "\",\"level\":\"error\",\"event\":\"bare\"}\n");
	free(t);
	free(j);
}

static void test_escape_quote_flag(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
		int quote;
	} cases[] = {
		{ "abc", 3, "abc", 0 },
		{ "", 0, "", 1 },
		{ "a b", 3, "a b", 1 },
		{ "a=b", 3, "a=b", 1 },
		{ "\n", 1, "\\n", 1 },
		{ "\\", 1, "\\\\", 1 },
		{ "\x80", 1, "\\x80", 1 },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int quote = -1;
		char *s = log_escape(cases[i].in, cases[i].len, &quote);

		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		assert_int_equal(quote, cases[i].quote);
		free(s);
	}
}

static void test_levels(void **state)
{
	static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
	enum log_level l = LOG_LEVEL_INFO;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(log_level_from_string(names[i], &l), 0);
		assert_int_equal(l, LOG_LEVEL_ERROR + (int)i);
		assert_string_equal(log_level_to_string(l), names[i]);
	}
	l = LOG_LEVEL_NOTICE;
	assert_int_equal(log_level_from_string("verbose", &l), -EINVAL);
	assert_int_equal(log_level_from_string("", &l), -EINVAL);
	assert_int_equal(log_level_from_string("INFO", &l), -EINVAL);
	assert_int_equal(l, LOG_LEVEL_NOTICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_table),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_null_and_numbers),
		cmocka_unit_test(test_no_fields),
		cmocka_unit_test(test_escape_quote_flag),
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
