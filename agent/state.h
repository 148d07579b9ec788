/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the agent keeps across restarts and reboots, and the lock that makes
 * it one agent per network namespace:
 *
 *   STATE_DIR/lkg-KEY.json    the last known good inputs: the text of every
 *                             configuration file and the policy file's bytes
 *                             of the last ruleset the kernel accepted
 *   STATE_DIR/auto-KEY.json   auto mode's trigger (time, reason, source)
 *   RUN_DIR/agent-INODE.lock  flock(2)ed by the running agent, holds its pid
 *
 * KEY is "host" in the namespace of PID 1 (which outlives reboots) and
 * "netns-INODE" elsewhere, so agents side by side in other namespaces keep
 * their own state. State files are input like any other: bounded, parsed
 * strictly, never followed through a symlink. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"

#define STATE_DIR_DEFAULT "/var/lib/port53guard"
#define STATE_RUN_DIR_DEFAULT "/run/port53guard"
/* Environment overrides, for tests and unusual layouts. */
#define STATE_DIR_ENV "PORT53GUARD_STATE_DIR"
#define STATE_RUN_DIR_ENV "PORT53GUARD_RUN_DIR"

/* Larger than any configuration the agent accepts plus an 8 MiB policy,
 * both possibly hex-encoded. */
#define STATE_MAX_SIZE (64u << 20)
#define STATE_MAX_FILES 1024u

#define STATE_SHA256_HEX 65

/* SHA-256 (FIPS 180-4). Libraries the agent already links export none. */
struct state_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t buf[64];
	size_t n;
};
void state_sha256_init(struct state_sha256 *s);
void state_sha256_update(struct state_sha256 *s, const void *data, size_t len);
void state_sha256_final(struct state_sha256 *s, uint8_t out[32]);
/* One call: lowercase hex, NUL-terminated. */
void state_sha256_hex(const void *data, size_t len, char out[STATE_SHA256_HEX]);

/* The namespace the agent runs in. */
struct state_ns {
	char key[40];                   /* "host" or "netns-INODE" */
	uint64_t inode;
	uint64_t cookie;                /* SO_NETNS_COOKIE, never reused in a boot; 0: unknown */
};
int state_ns_self(struct state_ns *ret);

/* The directories in use (environment or default); the state directory
 * resolved through symlinks (systemd's DynamicUser makes it one). */
int state_dir(char *buf, size_t len);
const char *state_run_dir(void);
/* The status file of the built-in fallback, in the run directory in use:
 * the agent writes it there and status reads it there when the
 * configuration cannot be loaded. Allocated; NULL on ENOMEM. */
char *state_fallback_status_file(void);

/* ---- last known good ---- */
struct state_lkg {
	time_t saved_at;
	uint64_t netns_cookie;
	char config_sha256[STATE_SHA256_HEX];   /* over "SHA256  NAME\n" per file, as sha256sum prints */
	char policy_sha256[STATE_SHA256_HEX];   /* "" without a policy file */
	struct config_sources config;
	char *policy_name;              /* NULL: no policy file */
	char *policy_text;
	size_t policy_len;
};

/* The hash of a configuration's sources: sha256sum's output for the files,
 * in order, hashed again: `sha256sum F1 F2 ... | sha256sum`. */
void state_config_sha256(const struct config_sources *src, char out[STATE_SHA256_HEX]);

/* JSON text of l (hashes computed here). Caller frees *ret. */
int state_lkg_format(const struct state_lkg *l, char **ret, size_t *ret_len);
/* Strict, bounded parse; every hash is checked. Error text in err. */
int state_lkg_parse(const char *text, size_t len, struct state_lkg **ret, char *err, size_t errlen);
void state_lkg_free(struct state_lkg *l);

/* Saved durably (temp file, fsync, rename). */
int state_lkg_save(const struct state_ns *ns, const struct state_lkg *l);
/* -ENOENT: none saved (or saved by another namespace that had this inode). */
int state_lkg_load(const struct state_ns *ns, struct state_lkg **ret, char *err, size_t errlen);

/* ---- auto mode's trigger ---- */
struct state_auto {
	time_t triggered_at;
	uint64_t netns_cookie;
	char reason[96];
	char source[160];
};
int state_auto_format(const struct state_auto *a, char **ret, size_t *ret_len);
int state_auto_parse(const char *text, size_t len, struct state_auto *ret, char *err, size_t errlen);
int state_auto_save(const struct state_ns *ns, const struct state_auto *a);
int state_auto_load(const struct state_ns *ns, struct state_auto *ret, char *err, size_t errlen);
/* 0 also when there was none. */
int state_auto_clear(const struct state_ns *ns);

/* ---- the lock ---- */
/* Takes RUN_DIR/agent-INODE.lock (directory 0755, file 0600, never through
 * a symlink) and writes the pid into it. -EBUSY: another agent holds it,
 * *ret_holder its pid (0 when unknown). -EPERM: the run directory is
 * writable by others. */
int state_lock(const struct state_ns *ns, int *ret_fd, pid_t *ret_holder);
