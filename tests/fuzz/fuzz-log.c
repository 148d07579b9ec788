/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for what reaches the log from the network: a captured
 * packet goes through dns_parse_packet(), and what the parser hands the
 * agent (source and destination address, ports, the query name as text and
 * as wire bytes, the type) is rendered by log_render() in both formats, the
 * way the dns_queries and inbound_query events do. A packet the parser
 * refuses is rendered as raw bytes instead, so the escaper also sees bytes
 * no parser would let through.
 *
 * Every line must be one line a terminal can show: no byte below 0x20 but
 * the final newline, no 0x7f, valid UTF-8 without C1 or bidi controls. The
 * text line must split back into exactly the fields that were logged, each
 * decoding to the bytes it was given (no value can forge another field);
 * the JSON line must be an object jansson parses, with the same fields.
 *
 * The first input byte picks the link type like fuzz-dns.c does, so the
 * seeds (tests/fuzz/corpus/log) have the same shape as its corpus.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
	DNS_LINK_EN10MB, DNS_LINK_LINUX_SLL, DNS_LINK_LINUX_SLL2, DNS_LINK_RAW, DNS_LINK_RAW_FILE,
	DNS_LINK_IPV4, DNS_LINK_IPV6, DNS_LINK_NULL, DNS_LINK_LOOP,
};
#define N_LINKS (sizeof(links) / sizeof(links[0]))
#define MAX_FIELDS 16

static const struct timespec ts_fixed = { .tv_sec = 1700000000, .tv_nsec = 5000000 };
#define TS_TEXT "2023-11-14T22:13:20.005Z"

#define fail(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* ---- the whole line: what a terminal would be shown ---- */

/* One UTF-8 sequence at s: its length and code point, or 0 when it is not
 * well formed (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_decode(const uint8_t *s, size_t left, uint32_t *ret_cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		   (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp;

	if (n == 0 || n > left)
		return 0;
	cp = n == 1 ? s[0] : s[0] & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
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

static void check_line_safe(const char *line)
{
	const uint8_t *u = (const uint8_t *)line;
	size_t len = strlen(line);

	if (len == 0 || line[len - 1] != '\n')
		fail("line does not end in one newline: %s", line);
	for (size_t i = 0; i < len - 1;) {
		uint32_t cp;
		size_t n = utf8_decode(u + i, len - 1 - i, &cp);

		if (n == 0 || cp_unsafe(cp))
			fail("unsafe byte 0x%02x at offset %zu in: %s", u[i], i, line);
		i += n;
	}
}

/* ---- the fields as the program meant them ---- */

struct field {
	const char *key;
	bool number;
	bool is_signed;
	const char *s;          /* bytes of a string value */
	size_t len;
	uint64_t u;
	int64_t i;
};

/* The value bytes log_emit() is given for a field: what decoding must give back. */
static void field_bytes(const struct log_kv *kv, struct field *f)
{
	f->key = kv->key;
	f->number = kv->type == LOG_KV_UINT || kv->type == LOG_KV_INT;
	f->is_signed = kv->type == LOG_KV_INT;
	f->u = kv->u;
	f->i = kv->i;
	if (kv->type == LOG_KV_BYTES) {
		f->s = kv->s ? kv->s : "";
		f->len = kv->s ? kv->len : 0;
	} else {
		f->s = kv->s ? kv->s : "-";
		f->len = f->number ? 0 : strlen(f->s);
	}
}

/* ---- reading the text format back ---- */

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

/* One value at *pp into out (room for strlen(*pp) bytes): bare, with no
 * quote, backslash, '=' or space, or quoted with \\ \" \n \r \t \xHH. */
static bool text_value_decode(const char **pp, char *out, size_t *ret_len)
{
	const char *p = *pp;
	bool quoted = *p == '"';
	size_t n = 0;

	if (quoted)
		p++;
	for (;;) {
		char c = *p;

		if (c == '\0' && quoted)
			return false;
		if (c == '\0' || (!quoted && c == ' '))
			break;
		if (quoted && c == '"') {
			p++;
			break;
		}
		if (!quoted && (c == '"' || c == '\\' || c == '='))
			return false;
		if (c != '\\') {
			out[n++] = c;
			p++;
			continue;
		}
		if (p[1] == 'x') {
			int hi = hexval(p[2]), lo = hi < 0 ? -1 : hexval(p[3]);

			if (hi < 0 || lo < 0)
				return false;
			out[n++] = (char)(hi << 4 | lo);
			p += 4;
			continue;
		}
		switch (p[1]) {
		case '\\': out[n++] = '\\'; break;
		case '"': out[n++] = '"'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		default: return false;
		}
		p += 2;
	}
	if (*p != ' ' && *p != '\0')
		return false;
	*pp = p;
	*ret_len = n;
	return true;
}

static void check_text_value(const struct field *f, const char *got, size_t got_len, const char *line)
{
	char num[32];

	if (f->number) {
		if (f->is_signed)
			snprintf(num, sizeof(num), "%lld", (long long)f->i);
		else
			snprintf(num, sizeof(num), "%llu", (unsigned long long)f->u);
		if (got_len != strlen(num) || memcmp(got, num, got_len) != 0)
			fail("field %s: number reads back wrong in: %s", f->key, line);
		return;
	}
	if (got_len != f->len || memcmp(got, f->s, got_len) != 0)
		fail("field %s does not read back to its bytes in: %s", f->key, line);
}

/* "TS LEVEL event=NAME k=v ...\n": exactly the fields given, in order. */
static void check_text_line(const char *line, const char *event, const struct field *fs, size_t n)
{
	static const char prefix[] = TS_TEXT " info event=";
	size_t len = strlen(line), i = 0;
	char *copy = strndup(line, len - 1), *val = malloc(len + 1);
	const char *p;

	if (!copy || !val)
		abort();
	if (strncmp(copy, prefix, strlen(prefix)) != 0 ||
	    strncmp(copy + strlen(prefix), event, strlen(event)) != 0)
		fail("line does not start with the timestamp, level and event: %s", line);
	p = copy + strlen(prefix) + strlen(event);
	while (*p) {
		const char *eq;
		size_t vlen;

		if (*p++ != ' ')
			fail("fields not separated by one space in: %s", line);
		eq = strchr(p, '=');
		if (!eq || i >= n)
			fail("more fields than were logged in: %s", line);
		if ((size_t)(eq - p) != strlen(fs[i].key) || memcmp(p, fs[i].key, (size_t)(eq - p)) != 0)
			fail("field %zu is not %s in: %s", i, fs[i].key, line);
		p = eq + 1;
		if (!text_value_decode(&p, val, &vlen))
			fail("ambiguous value of %s in: %s", fs[i].key, line);
		check_text_value(&fs[i], val, vlen, line);
		i++;
	}
	if (i != n)
		fail("%zu fields of %zu in: %s", i, n, line);
	free(val);
	free(copy);
}

/* ---- reading the JSON format back ---- */

/* Under JSON's own escaping the logger spells '\\' as "\\\\" and unsafe
 * non-ASCII bytes as "\\xHH"; undoing that must give the original bytes. */
static bool json_layer_decode(const char *s, size_t len, char *out, size_t *ret_len)
{
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		if (s[i] != '\\') {
			out[n++] = s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			out[n++] = '\\';
			i += 2;
		} else if (i + 3 < len && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			out[n++] = (char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
			i += 4;
		} else {
			return false;
		}
	}
	*ret_len = n;
	return true;
}

static void check_json_line(const char *line, const char *event, const struct field *fs, size_t n,
			    bool nul_allowed)
{
	json_error_t jerr;
	/* A NUL byte is spelled \u0000, which jansson refuses unless told: only
	 * raw-byte values (LOG_BYTES) can hold one. */
	json_t *o = json_loadb(line, strlen(line), JSON_REJECT_DUPLICATES | (nul_allowed ? JSON_ALLOW_NUL : 0),
			       &jerr);
	json_t *v;

	if (!o || !json_is_object(o))
		fail("JSON line does not parse (%s): %s", jerr.text, line);
	if (json_object_size(o) != n + 3)
		fail("JSON object has %zu members, not %zu: %s", json_object_size(o), n + 3, line);
	if (!json_is_string(json_object_get(o, "ts")) || strcmp(json_string_value(json_object_get(o, "ts")), TS_TEXT) ||
	    !json_is_string(json_object_get(o, "level")) || strcmp(json_string_value(json_object_get(o, "level")), "info") ||
	    !json_is_string(json_object_get(o, "event")) || strcmp(json_string_value(json_object_get(o, "event")), event))
		fail("JSON ts or event wrong: %s", line);
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(o, fs[i].key);
		if (!v)
			fail("JSON lacks %s: %s", fs[i].key, line);
		if (fs[i].number) {
			/* jansson holds integers as int64_t; the unsigned
			 * values logged here are far below INT64_MAX. */
			if (!json_is_integer(v) ||
			    (fs[i].is_signed ? json_integer_value(v) != fs[i].i
					     : (uint64_t)json_integer_value(v) != fs[i].u))
				fail("JSON %s is not the number logged: %s", fs[i].key, line);
			continue;
		}
		if (!json_is_string(v))
			fail("JSON %s is not a string: %s", fs[i].key, line);
		{
			size_t jl = json_string_length(v), got = 0;
			char *buf = malloc(jl + 1);

			if (!buf)
				abort();
			if (!json_layer_decode(json_string_value(v), jl, buf, &got) || got != fs[i].len ||
			    memcmp(buf, fs[i].s, got) != 0)
				fail("JSON %s does not decode to its bytes: %s", fs[i].key, line);
			free(buf);
		}
	}
	json_decref(o);
}

/* ---- one event, both formats ---- */

static void render_and_check(const char *event, const struct log_kv *kv, size_t n, bool nul_allowed)
{
	struct field fs[MAX_FIELDS];
	char *line;

	if (n > MAX_FIELDS)
		abort();
	for (size_t i = 0; i < n; i++)
		field_bytes(&kv[i], &fs[i]);

	line = log_render(LOG_FORMAT_TEXT, &ts_fixed, LOG_LEVEL_INFO, event, kv, n);
	if (!line)
		abort();
	check_line_safe(line);
	check_text_line(line, event, fs, n);
	free(line);

	line = log_render(LOG_FORMAT_JSON, &ts_fixed, LOG_LEVEL_INFO, event, kv, n);
	if (!line)
		abort();
	check_line_safe(line);
	check_json_line(line, event, fs, n, nul_allowed);
	free(line);
}

static void addr_text(const struct dns_packet *p, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(p->family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* What the agent logs about a parsed packet (dns_queries, inbound_query):
 * addresses and ports, the name as text, and also its wire bytes, which
 * hold every byte a label can. */
static void log_parsed(const struct dns_packet *p)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	addr_text(p, p->src, src, sizeof(src));
	addr_text(p, p->dst, dst, sizeof(dst));
	render_and_check("inbound_query", LOG_KV_ARRAY(
		LOG_STR("src", src), LOG_UINT("sport", p->sport), LOG_STR("dst", dst),
		LOG_UINT("dport", p->dport), LOG_STR("proto", p->proto == IPPROTO_TCP ? "tcp" : "udp"),
		LOG_STR("qname", p->has_question ? p->qname.text : ""),
		LOG_STR("qtype", dns_type_to_string(p->qtype)), LOG_UINT("id", p->hdr.id),
		LOG_INT("ifindex", p->ifindex)), 9, false);
	/* Every name label byte (0x00..0xff), straight from the wire. */
	render_and_check("dns_queries", LOG_KV_ARRAY(
		LOG_STR("src", src), LOG_BYTES("qname_wire", p->qname.wire, p->has_question ? p->qname.wire_len : 0),
		LOG_STR("rcode", dns_rcode_to_string(p->hdr.rcode))), 3, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_packet p;     /* 1.5 KiB; static keeps the stack small */
	enum dns_error e;

	if (size < 1)
		return 0;
	e = dns_parse_packet(links[data[0] % N_LINKS], data + 1, size - 1, &p);
	if (e == DNS_OK) {
		if (strlen(p.qname.text) != p.qname.text_len)
			abort();
		log_parsed(&p);
	} else {
		/* The same bytes as a C string too (up to the first NUL), the
		 * way a process name or path reaches the logger. */
		char *text = strndup((const char *)data + 1, size - 1);

		if (!text)
			abort();
		render_and_check("dns_malformed", LOG_KV_ARRAY(
			LOG_STR("error", dns_error_to_string(e)), LOG_BYTES("packet", data + 1, size - 1),
			LOG_STR("text", text)), 3, true);
		free(text);
	}
	return 0;
}
