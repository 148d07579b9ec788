/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Levels are syslog priorities, so they map 1:1 onto the journal's PRIORITY. */
enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

enum log_kv_type {
	LOG_KV_STR,     /* NUL-terminated; NULL logs as "-" */
	LOG_KV_BYTES,   /* explicit length, may hold NUL */
	LOG_KV_INT,
	LOG_KV_UINT,
};

/* One field of an event. Keys are the program's own constants
 * ([a-z0-9_]+); values are anything and are always escaped. */
struct log_kv {
	const char *key;
	enum log_kv_type type;
	const char *s;
	size_t len;
	int64_t i;
	uint64_t u;
};

#define LOG_STR(k, v)      ((struct log_kv){ .key = (k), .type = LOG_KV_STR, .s = (v) })
#define LOG_BYTES(k, p, n) ((struct log_kv){ .key = (k), .type = LOG_KV_BYTES, .s = (const char *)(p), .len = (n) })
#define LOG_INT(k, v)      ((struct log_kv){ .key = (k), .type = LOG_KV_INT, .i = (int64_t)(v) })
#define LOG_UINT(k, v)     ((struct log_kv){ .key = (k), .type = LOG_KV_UINT, .u = (uint64_t)(v) })
#define LOG_BOOL(k, v)     LOG_STR((k), (v) ? "yes" : "no")

/* Chooses the format and the most verbose level written. When stderr is the
 * journal's stream (JOURNAL_STREAM matches it), events go to the journal as
 * structured fields instead. Safe to call again (on reload). */
void log_setup(enum log_format format, enum log_level max_level);

/* Overrides the journal detection: tests and one-shot commands use it. */
void log_set_journal(int enabled);

/* Emits one event: a stable name and its fields. */
void log_emit(enum log_level level, const char *event, const struct log_kv *kv, size_t n);

#define LOG_KV_ARRAY(...) ((const struct log_kv[]){ __VA_ARGS__ })
#define LOG_KV_COUNT(...) (sizeof(LOG_KV_ARRAY(__VA_ARGS__)) / sizeof(struct log_kv))
#define log_event(level, event, ...) \
	log_emit((level), (event), LOG_KV_ARRAY(__VA_ARGS__), LOG_KV_COUNT(__VA_ARGS__))
#define log_event0(level, event) log_emit((level), (event), NULL, 0)

#define log_error(event, ...)   log_event(LOG_LEVEL_ERROR, event, __VA_ARGS__)
#define log_warning(event, ...) log_event(LOG_LEVEL_WARNING, event, __VA_ARGS__)
#define log_notice(event, ...)  log_event(LOG_LEVEL_NOTICE, event, __VA_ARGS__)
#define log_info(event, ...)    log_event(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define log_debug(event, ...)   log_event(LOG_LEVEL_DEBUG, event, __VA_ARGS__)

/* Renders one event as one line, '\n' included, without writing it. Returns
 * a string the caller frees, or NULL when out of memory. Pure: the unit tests
 * and the fuzzers drive it directly. */
char *log_render(enum log_format format, const struct timespec *ts, enum log_level level,
		 const char *event, const struct log_kv *kv, size_t n);

/* Escapes bytes for the text format into a string the caller frees: printable
 * ASCII and valid UTF-8 pass, '"' and '\\' get a backslash, \n \r \t are
 * spelled so, and every other control byte, C1 control, bidi control and
 * invalid UTF-8 byte becomes \xHH. *ret_quote says whether the value needs
 * double quotes (empty, or holds a space, '=', '"' or an escape). */
char *log_escape(const char *s, size_t len, int *ret_quote);

/* "error", "warning", ... and back. Returns -EINVAL for an unknown name. */
const char *log_level_to_string(enum log_level level);
int log_level_from_string(const char *s, enum log_level *ret);
