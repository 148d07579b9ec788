/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

/* The logger is the daemon's one piece of process-wide state outside the loop:
 * it is set once at start (and on reload) and read by every event. */
static struct {
	enum log_format format;
	enum log_level max_level;
	bool journal;
} log_state = { LOG_FORMAT_TEXT, LOG_LEVEL_INFO, false };

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

const char *log_level_to_string(enum log_level level)
{
	if ((size_t)level < sizeof(level_names) / sizeof(level_names[0]) && level_names[level])
		return level_names[level];
	return "error";
}

int log_level_from_string(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && strcmp(level_names[i], s) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/* A growable string; on allocation failure it stays failed and renders NULL. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

static void sb_hex(struct sbuf *b, uint8_t byte)
{
	char t[5];

	snprintf(t, sizeof(t), "\\x%02x", byte);
	sb_putn(b, t, 4);
}

static char *sb_steal(struct sbuf *b)
{
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	if (!b->p)
		return strdup("");
	return b->p;
}

/* Length of a valid UTF-8 sequence at s that is safe to show on a terminal,
 * or 0. Rejects overlong forms, surrogates, values past U+10FFFF, C1 controls,
 * line/paragraph separators and bidi overrides (they reorder what follows). */
static size_t utf8_safe_len(const uint8_t *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff)
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c)
		return 0;
	return n;
}

/* The shared escaping walk. text=true is the key=value format; text=false is
 * the layer under JSON, where only '\\' and unsafe non-ASCII are rewritten
 * (JSON's own escaping then handles quotes and control bytes). */
static void escape_into(struct sbuf *b, const char *s, size_t len, bool text, bool *ret_quote)
{
	const uint8_t *u = (const uint8_t *)s;
	bool quote = len == 0;

	for (size_t i = 0; i < len;) {
		uint8_t c = u[i];
		size_t n;

		if (c >= 0x80) {
			n = utf8_safe_len(u + i, len - i);
			if (n) {
				sb_putn(b, s + i, n);
				i += n;
				continue;
			}
			sb_hex(b, c);
			quote = true;
		} else if (c == '\\') {
			sb_puts(b, "\\\\");
			quote = true;
		} else if (!text) {
			/* JSON could say \u0000, but most readers (jansson among
			 * them) refuse it: spell NUL like an invalid byte. */
			if (c == 0) {
				sb_hex(b, c);
			} else {
				sb_putc(b, (char)c);
			}
		} else if (c == '"') {
			sb_puts(b, "\\\"");
			quote = true;
		} else if (c == '\n') {
			sb_puts(b, "\\n");
			quote = true;
		} else if (c == '\r') {
			sb_puts(b, "\\r");
			quote = true;
		} else if (c == '\t') {
			sb_puts(b, "\\t");
			quote = true;
		} else if (c < 0x20 || c == 0x7f) {
			sb_hex(b, c);
			quote = true;
		} else {
			if (c == ' ' || c == '=')
				quote = true;
			sb_putc(b, (char)c);
		}
		i++;
	}
	if (ret_quote)
		*ret_quote = quote;
}

char *log_escape(const char *s, size_t len, int *ret_quote)
{
	struct sbuf b = { 0 };
	bool quote;

	escape_into(&b, s, len, true, &quote);
	if (ret_quote)
		*ret_quote = quote;
	return sb_steal(&b);
}

static void json_string(struct sbuf *b, const char *s, size_t len)
{
	struct sbuf inner = { 0 };

	escape_into(&inner, s, len, false, NULL);
	if (inner.failed) {
		b->failed = true;
		free(inner.p);
		return;
	}
	sb_putc(b, '"');
	for (size_t i = 0; i < inner.len; i++) {
		uint8_t c = (uint8_t)inner.p[i];
		char t[8];

		if (c == '"' || c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c == '\t') {
			sb_puts(b, "\\t");
		} else if (c == '\r') {
			sb_puts(b, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(t, sizeof(t), "\\u%04x", c);
			sb_puts(b, t);
		} else {
			sb_putc(b, (char)c);
		}
	}
	sb_putc(b, '"');
	free(inner.p);
}

static void kv_value(const struct log_kv *kv, const char **ret_s, size_t *ret_len, char *num, size_t numlen)
{
	switch (kv->type) {
	case LOG_KV_INT:
		snprintf(num, numlen, "%" PRId64, kv->i);
		break;
	case LOG_KV_UINT:
		snprintf(num, numlen, "%" PRIu64, kv->u);
		break;
	case LOG_KV_BYTES:
		*ret_s = kv->s ? kv->s : "";
		*ret_len = kv->s ? kv->len : 0;
		return;
	case LOG_KV_STR:
	default:
		*ret_s = kv->s ? kv->s : "-";
		*ret_len = strlen(*ret_s);
		return;
	}
	*ret_s = num;
	*ret_len = strlen(num);
}

static void text_value(struct sbuf *b, const struct log_kv *kv)
{
	char num[32];
	const char *s;
	size_t len;
	bool quote;

	kv_value(kv, &s, &len, num, sizeof(num));
	if (kv->type == LOG_KV_INT || kv->type == LOG_KV_UINT) {
		sb_puts(b, num);
		return;
	}
	struct sbuf v = { 0 };
	escape_into(&v, s, len, true, &quote);
	if (v.failed) {
		b->failed = true;
		free(v.p);
		return;
	}
	if (quote)
		sb_putc(b, '"');
	sb_putn(b, v.p ? v.p : "", v.len);
	if (quote)
		sb_putc(b, '"');
	free(v.p);
}

static void format_ts(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	char date[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%03uZ", date, (unsigned)(ts->tv_nsec / 1000000) % 1000u);
}

/* "event=NAME k=v ...", the shared body of the text line and the journal's MESSAGE. */
static void text_body(struct sbuf *b, const char *event, const struct log_kv *kv, size_t n)
{
	sb_puts(b, "event=");
	sb_puts(b, event);
	for (size_t i = 0; i < n; i++) {
		sb_putc(b, ' ');
		sb_puts(b, kv[i].key);
		sb_putc(b, '=');
		text_value(b, &kv[i]);
	}
}

char *log_render(enum log_format format, const struct timespec *ts, enum log_level level,
		 const char *event, const struct log_kv *kv, size_t n)
{
	struct sbuf b = { 0 };
	char tsbuf[40], num[32];

	format_ts(ts, tsbuf, sizeof(tsbuf));
	if (format == LOG_FORMAT_TEXT) {
		sb_puts(&b, tsbuf);
		sb_putc(&b, ' ');
		sb_puts(&b, log_level_to_string(level));
		sb_putc(&b, ' ');
		text_body(&b, event, kv, n);
	} else {
		sb_puts(&b, "{\"ts\":\"");
		sb_puts(&b, tsbuf);
		sb_puts(&b, "\",\"level\":\"");
		sb_puts(&b, log_level_to_string(level));
		sb_puts(&b, "\",\"event\":");
		json_string(&b, event, strlen(event));
		for (size_t i = 0; i < n; i++) {
			const char *s;
			size_t len;

			sb_putc(&b, ',');
			json_string(&b, kv[i].key, strlen(kv[i].key));
			sb_putc(&b, ':');
			kv_value(&kv[i], &s, &len, num, sizeof(num));
			if (kv[i].type == LOG_KV_INT || kv[i].type == LOG_KV_UINT)
				sb_puts(&b, num);
			else
				json_string(&b, s, len);
		}
		sb_putc(&b, '}');
	}
	sb_putc(&b, '\n');
	return sb_steal(&b);
}

/* stderr is the journal when JOURNAL_STREAM names its device and inode
 * (systemd.exec(5)); a child that inherited the variable but not the fd is not. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_format format, enum log_level max_level)
{
	log_state.format = format;
	log_state.max_level = max_level;
	log_state.journal = stderr_is_journal();
}

void log_set_journal(int enabled)
{
	log_state.journal = enabled != 0;
}

/* Journal field names: PORT53GUARD_ and the key in capitals. */
static void journal_field(struct sbuf *b, const char *key)
{
	sb_puts(b, "PORT53GUARD_");
	for (const char *k = key; *k; k++) {
		char c = *k;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		sb_putc(b, c);
	}
	sb_putc(b, '=');
}

#define JOURNAL_MAX_FIELDS 64

static void emit_journal(enum log_level level, const char *event, const struct log_kv *kv, size_t n)
{
	struct sbuf f[JOURNAL_MAX_FIELDS + 4] = { 0 };
	struct iovec iov[JOURNAL_MAX_FIELDS + 4];
	size_t nf = 0;
	char num[32];

	if (n > JOURNAL_MAX_FIELDS)
		n = JOURNAL_MAX_FIELDS;
	sb_puts(&f[nf], "MESSAGE=");
	text_body(&f[nf++], event, kv, n);
	sb_puts(&f[nf], "PRIORITY=");
	snprintf(num, sizeof(num), "%d", (int)level);
	sb_puts(&f[nf++], num);
	sb_puts(&f[nf++], "SYSLOG_IDENTIFIER=port53guard");
	sb_puts(&f[nf], "PORT53GUARD_EVENT=");
	sb_puts(&f[nf++], event);
	for (size_t i = 0; i < n; i++) {
		const char *s;
		size_t len;

		journal_field(&f[nf], kv[i].key);
		kv_value(&kv[i], &s, &len, num, sizeof(num));
		/* Journal fields may hold any byte, but they are read on terminals:
		 * store the same escaped form the text log shows, without quotes. */
		escape_into(&f[nf], s, len, true, NULL);
		nf++;
	}
	for (size_t i = 0; i < nf; i++) {
		iov[i].iov_base = f[i].p;
		iov[i].iov_len = f[i].failed ? 0 : f[i].len;
	}
	sd_journal_sendv(iov, (int)nf);
	for (size_t i = 0; i < nf; i++)
		free(f[i].p);
}

void log_emit(enum log_level level, const char *event, const struct log_kv *kv, size_t n)
{
	struct timespec ts;
	char *line;

	if (level > log_state.max_level)
		return;
	if (log_state.journal) {
		emit_journal(level, event, kv, n);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	line = log_render(log_state.format, &ts, level, event, kv, n);
	if (!line) {
		fprintf(stderr, "port53guard: out of memory while logging event=%s\n", event);
		return;
	}
	fputs(line, stderr);
	fflush(stderr);
	free(line);
}
