/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The cloud policy file, watched: configuration management replaces it
 * (usually by writing a temporary file and renaming it over the old one),
 * and the agent mirrors the new policy without a SIGHUP. inotify watches the
 * file's directory, not the file: a rename replaces the inode a watch on
 * the file would hold, and the directory sees the new name arrive.
 */

#include <stdbool.h>

struct daemon;
struct policywatch;

/* What changed about the watched name. */
enum policywatch_change {
	POLICYWATCH_NONE,
	POLICYWATCH_WRITTEN,            /* written in place and closed */
	POLICYWATCH_REPLACED,           /* another file renamed onto it */
	POLICYWATCH_REMOVED,            /* deleted or renamed away */
};

/* Watches path (absolute) through its directory. Returns 0, or a negative
 * errno (-ENOENT: the directory is missing). *ret set only on success. */
int policywatch_new(const char *path, struct policywatch **ret);
void policywatch_free(struct policywatch *w);
int policywatch_fd(const struct policywatch *w);
const char *policywatch_path(const struct policywatch *w);

/* Reads every pending event (the fd is non-blocking) and returns the last
 * change to the watched name, POLICYWATCH_NONE when only other names in
 * the directory changed, or a negative errno. Several events read at once
 * count as one change: one reload for one replace. */
int policywatch_read(struct policywatch *w, enum policywatch_change *ret);
const char *policywatch_change_name(enum policywatch_change c);

/* The agent's side (d->policywatch): policywatch_setup() follows
 * d->config->policy_file (at start and after every reload: set, changed or
 * unset) and keeps the fd in d's epoll set; policywatch_on_event() reloads
 * the policy when the file changed: policy_changed, then the usual
 * policy_loaded and rules_applied, or rules_invalid and config_kept with
 * the old rules left in place. */
void policywatch_setup(struct daemon *d);
void policywatch_on_event(struct daemon *d);
bool policywatch_owns_fd(const struct daemon *d, int fd);
void policywatch_close(struct daemon *d);
