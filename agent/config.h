/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cidr.h"
#include "build-config.h"
#include "log.h"

enum agent_mode {
	AGENT_MODE_ENFORCE,
	AGENT_MODE_MONITOR,
	AGENT_MODE_AUTO,
};

#define CONFIG_PROTO_UDP 0x1u
#define CONFIG_PROTO_TCP 0x2u

/* [rules] internal_interfaces: which interfaces' DNS the cloud never sees. */
enum config_internal {
	CONFIG_INTERNAL_AUTO,           /* as classified: bridges without a NIC port, veths, ... */
	CONFIG_INTERNAL_NONE,
	CONFIG_INTERNAL_LIST,           /* the names in internal_interfaces ("X*" prefixes) */
};

/* Every key, in the order check-config prints them. */
enum config_key {
	CONFIG_AGENT_MODE,
	CONFIG_AGENT_LOG_FORMAT,
	CONFIG_AGENT_LOG_LEVEL,
	CONFIG_AGENT_SUMMARY_INTERVAL,
	CONFIG_RULES_PROTOCOLS,
	CONFIG_RULES_ALLOW,
	CONFIG_RULES_EXEMPT_INTERFACES,
	CONFIG_RULES_INTERNAL_INTERFACES,
	CONFIG_RULES_KEEP_ON_STOP,
	CONFIG_RULES_POLICY_FILE,
	CONFIG_RULES_POLICY_FORMAT,
	CONFIG_RULES_TABLE_OWNER,
	CONFIG_CAPTURE_INTERFACES,
	CONFIG_CAPTURE_BUFFER_SIZE,
	CONFIG_CAPTURE_RESPONSES,
	CONFIG_CAPTURE_SAMPLE_ABOVE,
	CONFIG_LISTENERS_RESCAN_INTERVAL,
	CONFIG_LISTENERS_NAMESPACES,
	CONFIG_OUTPUT_STATUS_FILE,
	CONFIG_OUTPUT_METRICS_FILE,
	_CONFIG_KEY_MAX,
};

/* Where a value came from: file is NULL for the built-in default. */
struct config_origin {
	const char *file;
	unsigned line;
};

struct config {
	enum agent_mode mode;
	enum log_format log_format;
	enum log_level log_level;
	unsigned summary_interval;      /* seconds */

	unsigned protocols;             /* CONFIG_PROTO_* */
	struct cidr *allow;             /* as written, both families mixed */
	size_t n_allow;
	unsigned *allow_line;           /* per entry: its line in origin[CONFIG_RULES_ALLOW].file
					 * (a later file replaces the whole list) */
	char **exempt_interfaces;
	size_t n_exempt_interfaces;
	unsigned *exempt_line;          /* per entry, like allow_line */
	enum config_internal internal_mode;
	char **internal_interfaces;     /* CONFIG_INTERNAL_LIST only */
	size_t n_internal_interfaces;
	bool keep_on_stop;
	char *policy_file;              /* NULL when unset */
	int policy_format;              /* enum sgpolicy_format */
	bool table_owner;               /* own the table where the kernel can keep it */

	char **capture_interfaces;      /* none means "any" */
	size_t n_capture_interfaces;
	uint64_t capture_buffer_size;   /* bytes */
	bool capture_responses;
	unsigned capture_sample_above;  /* queries/s; 0: never sample */

	unsigned rescan_interval;       /* seconds */
	bool namespaces;

	char *status_file;
	char *metrics_file;             /* NULL: no metrics file */

	struct config_origin origin[_CONFIG_KEY_MAX];
	char **files;                   /* every file read, in order; owns the names */
	size_t n_files;
};

/* One configuration error, with enough context for one precise line. */
struct config_error {
	char file[512];
	unsigned line;                  /* 0: not about a line */
	char section[64];
	char key[64];
	char value[256];                /* raw, escape before printing */
	char message[160];
};

#define CONFIG_DEFAULT_PATH PORT53GUARD_SYSCONFDIR "/port53guard.conf"

/* A configuration holding only the built-in defaults. NULL on ENOMEM. */
struct config *config_new(void);
void config_free(struct config *c);

/* Reads main_path (NULL: the default path, which may be missing), then every
 * "*.conf" in the conf.d directory beside it in lexical order; later files
 * win, key by key. An explicitly given path must exist. On error returns a
 * negative errno and fills *err; *ret is set only on success. */
int config_load(const char *main_path, struct config **ret, struct config_error *err);

/* The bytes of every file config_load read, in order: enough to build the
 * same configuration again later (the agent's last known good). */
struct config_source {
	char *name;
	char *text;
	size_t len;
};
struct config_sources {
	struct config_source *v;
	size_t n;
};

/* config_load, and the sources it read (*ret_src set only on success;
 * ret_src may be NULL). */
int config_load_sources(const char *main_path, struct config **ret, struct config_sources *ret_src,
			struct config_error *err);

/* The configuration those sources give, parsed and validated as config_load
 * does; no file is read. */
int config_from_sources(const struct config_sources *src, struct config **ret, struct config_error *err);
void config_sources_free(struct config_sources *src);

/* Applies one file's text on top of c: pure, for tests and fuzzers. name is
 * what errors and origins call the file. */
int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
		      struct config_error *err);

/* Cross-key checks after all files are read; config_load runs them, so the
 * agent (at start and on reload) and check-config refuse the same things:
 * an allow list that covers all of IPv4 or all of IPv6, alone or as a union
 * of entries, and a metrics file that is the status file. */
int config_validate(const struct config *c, struct config_error *err);

/* Legal but probably not meant. code is a stable finding code:
 *   allow_broad               an allow entry shorter than /8 (IPv4) or /32 (IPv6)
 *   exempt_interface_missing  an exempt interface (not a "prefix*") that does
 *                             not exist in this network namespace now
 * where.message says what and, when a near name exists, "did you mean". */
struct config_warning {
	const char *code;
	struct config_error where;
};

/* Also look at the interfaces of the calling network namespace. */
#define CONFIG_WARN_INTERFACES 0x1u

typedef void config_warning_fn(const struct config_warning *w, void *userdata);

/* Calls fn (may be NULL) once per warning, in key order. Returns how many
 * there were, or a negative errno. Never logs: check-config prints them, the
 * agent logs each as an event named after its code. */
int config_warnings(const struct config *c, unsigned flags, config_warning_fn *fn, void *userdata);

/* One line: "CODE: FILE:LINE: [section] key = "value": message", escaped. */
char *config_warning_string(const struct config_warning *w);

/* Prints the effective configuration as INI, each value with its origin. */
void config_dump(const struct config *c, FILE *out);

/* "section.key" names and text values, for check-config and status. */
const char *config_key_section(enum config_key k);
const char *config_key_name(enum config_key k);
/* The value as the config file would spell it; caller frees. */
char *config_value_string(const struct config *c, enum config_key k);

/* One line: "FILE:LINE: [section] key = "value": message", escaped. Caller frees. */
char *config_error_string(const struct config_error *err);

const char *agent_mode_to_string(enum agent_mode m);
