/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Network namespaces: find every one the host has and run a function inside
 * each. sock_diag and rtnetlink only answer for the namespace their socket
 * was opened in, so whoever wants to look inside opens a fresh socket in the
 * function it passes to netns_run_in().
 *
 * A namespace is identified by the inode of its nsfs file (what
 * "ls -L -i /proc/PID/ns/net" and "ip netns identify" compare). It is found
 * through the processes in it (/proc/PID/ns/net) and through the names
 * iproute2 keeps (/run/netns/NAME bind mounts); a namespace that has neither
 * cannot be reached and is not listed.
 */

struct netns_entry {
	uint64_t inode;
	char *name;             /* the /run/netns name, NULL when it has none */
	char *path;             /* opens it: /run/netns/NAME or /proc/PID/ns/net */
	bool self;              /* the caller's own namespace */
};

struct netns_list {
	struct netns_entry *entries;    /* the caller's own namespace first */
	size_t n;
	uint64_t self_inode;
	size_t denied;          /* processes whose /proc/PID/ns/net gave EACCES/EPERM */
};

/* The inode of the calling thread's network namespace. */
int netns_self_inode(uint64_t *ret);

/* Every distinct namespace reachable through /proc and /run/netns, deduped by
 * inode. Processes that exit while the walk runs are skipped. */
int netns_enumerate(struct netns_list **ret);

/* Only the caller's own namespace (namespace walking turned off), named
 * when /run/netns has a name for it. */
int netns_list_self(struct netns_list **ret);

void netns_list_free(struct netns_list *l);

typedef int (*netns_fn)(const struct netns_entry *e, void *userdata);

/*
 * Runs fn inside e and returns its result. The thread always goes back to
 * the namespace it was in, whatever fn returns: the original is held open
 * by fd for the whole call, and the return is checked (the thread's
 * namespace inode after going back is the one it had before). Errors before
 * fn runs: -ESTALE when the path now leads to another namespace (its process
 * exited and the pid was reused), -errno from open() or setns() (EPERM
 * without CAP_SYS_ADMIN). When going back fails or cannot be proven the
 * thread is stranded and -ENOTRECOVERABLE is returned: the caller must not
 * go on with namespace-sensitive work in this process. The scan helper
 * exits then (agent/scanhelper.c), and its supervisor starts a new one in
 * the right namespace; the one-shot scan command fails.
 */
int netns_run_in(const struct netns_entry *e, netns_fn fn, void *userdata);
