/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Socket inode -> owning process, through /proc/PID/fd. Socket inodes are
 * global (one sockfs for the whole kernel), so one walk answers for sockets
 * of every network namespace.
 *
 * Every string here comes from another process (its comm, the path of its
 * executable, its cgroup path): raw bytes, escape before printing.
 */

enum procmap_status {
	PROCMAP_UNKNOWN,        /* no readable process holds it */
	PROCMAP_DENIED,         /* not found, and some processes' fds were unreadable */
	PROCMAP_FOUND,
};

struct procmap_owner {
	enum procmap_status status;
	pid_t pid;              /* the first process found holding the socket */
	char *comm;             /* NULL when unreadable */
	char *exe;              /* NULL when unreadable (kernel thread, no permission) */
	char *unit;             /* systemd unit, NULL when none */
	char *user_unit;        /* unit of a user manager (inside user@UID.service), or NULL */
	char *container;        /* container id (64 hex digits), NULL when none */
	char *container_name;   /* the runtime's name for it, NULL when unknown */
};

struct procmap_result {
	struct procmap_owner *owners;   /* owners[i] is the owner of inodes[i] */
	size_t n;
	bool denied;                    /* some /proc/PID/fd gave EACCES or EPERM */
};

/*
 * Finds the owners of n socket inodes by walking proc_dir ("/proc" but for
 * tests) and stops as soon as every inode is found. A socket held by several
 * processes (a forking server) is reported with the first one the walk
 * meets, the lowest pid in readdir order. Not finding an owner is not an
 * error: that owner's status says why.
 */
int procmap_lookup(const char *proc_dir, const uint64_t *inodes, size_t n,
		   struct procmap_result **ret);
void procmap_result_free(struct procmap_result *r);

/* Frees the strings of o and zeroes it. */
void procmap_owner_clear(struct procmap_owner *o);

/* "socket:[12345]" (the text of a /proc/PID/fd link) -> 12345. -EINVAL for
 * anything else. */
int procmap_parse_socket_link(const char *s, size_t len, uint64_t *ret);

/* From the text of /proc/PID/cgroup: the path in the unified hierarchy
 * ("0::PATH"), else the one of the name=systemd hierarchy (cgroup v1).
 * -ENXIO when neither is there. Only whole lines are considered. */
int procmap_cgroup_path(const char *text, size_t len, char **ret);

/*
 * The systemd unit of a cgroup path, by systemd's rules (cg_path_get_unit
 * and cg_path_get_user_unit): skip the leading slices, the next component is
 * the unit; a unit that is a user manager (user@UID.service) has the user's
 * own units below it, again after their slices. ret_unit and ret_user_unit
 * may be NULL. -ENXIO when the path names no unit.
 */
int procmap_cgroup_unit(const char *path, char **ret_unit, char **ret_user_unit);

/* The container id in a cgroup path: docker-ID.scope, /docker/ID,
 * cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope (ID: 64 hex
 * digits), the outermost when nested. -ENXIO when there is none. */
int procmap_cgroup_container(const char *path, char **ret);

/* Longest container name kept; a longer one is cut. */
#define PROCMAP_CONTAINER_NAME_MAX 253

/*
 * The name a container runtime gave container id, from one of its files
 * (text, len): Docker's config.v2.json ("Name", without its leading '/'),
 * an OCI bundle's config.json (the Kubernetes container-name annotation of
 * containerd or CRI-O), or containers/storage's containers.json (podman:
 * the first of "names" of the entry with this "id"). The text is hostile:
 * any JSON, any size up to len. -ENXIO when it names no container id.
 */
int procmap_container_name_parse(const char *text, size_t len, const char *id, char **ret);

/*
 * Looks the name up in the runtimes' files below root ("/" but for tests):
 * var/lib/docker/containers/ID/config.v2.json,
 * run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/config.json,
 * var/lib/containers/storage/overlay-containers/containers.json. Each is
 * read with a size limit. -ENXIO when none names it; id must be 64 hex.
 */
int procmap_container_name(const char *root, const char *id, char **ret);
