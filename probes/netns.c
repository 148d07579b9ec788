/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The thread's own namespace: /proc/self would name the thread group
 * leader's, which differs once any thread has called setns(). */
#define NETNS_SELF_PATH "/proc/thread-self/ns/net"
#define NETNS_RUN_DIR "/run/netns"

int netns_self_inode(uint64_t *ret)
{
	struct stat st;

	if (stat(NETNS_SELF_PATH, &st) < 0)
		return -errno;
	*ret = (uint64_t)st.st_ino;
	return 0;
}

void netns_list_free(struct netns_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->entries[i].name);
		free(l->entries[i].path);
	}
	free(l->entries);
	free(l);
}

static struct netns_entry *netns_find(struct netns_list *l, uint64_t inode)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->entries[i].inode == inode)
			return &l->entries[i];
	return NULL;
}

/* Adds a namespace unless it is known; a name fills in a nameless entry. */
static int netns_add(struct netns_list *l, size_t *cap, uint64_t inode, const char *name,
		     const char *path)
{
	struct netns_entry *e = netns_find(l, inode), *v;

	if (e) {
		if (name && !e->name && !(e->name = strdup(name)))
			return -ENOMEM;
		return 0;
	}
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;

		v = reallocarray(l->entries, ncap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->entries = v;
		*cap = ncap;
	}
	e = &l->entries[l->n];
	*e = (struct netns_entry){ .inode = inode, .self = inode == l->self_inode };
	e->path = strdup(path);
	e->name = name ? strdup(name) : NULL;
	if (!e->path || (name && !e->name)) {
		free(e->path);
		free(e->name);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* st_dev of nsfs: a /run/netns file that is not a bind mount of a namespace
 * (left behind by a crashed "ip netns add") lives on the tmpfs instead. */
static int netns_self_stat(struct stat *ret)
{
	return stat(NETNS_SELF_PATH, ret) < 0 ? -errno : 0;
}

/* Names from /run/netns; a missing directory just means no names. With
 * only_inode set, only that namespace is taken. */
static int netns_scan_run(struct netns_list *l, size_t *cap, dev_t nsfs, const uint64_t *only_inode)
{
	char path[sizeof(NETNS_RUN_DIR) + 1 + 256];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	d = opendir(NETNS_RUN_DIR);
	if (!d)
		return errno == ENOENT || errno == EACCES ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, de->d_name);
		if (stat(path, &st) < 0 || st.st_dev != nsfs)
			continue;
		if (only_inode && (uint64_t)st.st_ino != *only_inode)
			continue;
		r = netns_add(l, cap, (uint64_t)st.st_ino, de->d_name, path);
	}
	closedir(d);
	return r;
}

static bool netns_is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Namespaces of the running processes. Each process costs one stat(); the
 * last hit is checked first because most processes share a namespace. */
static int netns_scan_proc(struct netns_list *l, size_t *cap, dev_t nsfs)
{
	char rel[300], path[320];
	uint64_t last = l->self_inode;
	struct dirent *de;
	struct stat st;
	int procfd, r = 0;
	DIR *d;

	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	d = fdopendir(procfd);
	if (!d) {
		r = -errno;
		close(procfd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		if (!netns_is_pid(de->d_name))
			continue;
		snprintf(rel, sizeof(rel), "%s/ns/net", de->d_name);
		if (fstatat(procfd, rel, &st, 0) < 0) {
			if (errno == EACCES || errno == EPERM)
				l->denied++;
			continue;
		}
		if ((uint64_t)st.st_ino == last || st.st_dev != nsfs)
			continue;
		last = (uint64_t)st.st_ino;
		snprintf(path, sizeof(path), "/proc/%s", rel);
		r = netns_add(l, cap, last, NULL, path);
	}
	closedir(d);
	return r;
}

static int netns_list_new(struct netns_list **ret, size_t *cap, struct stat *self)
{
	struct netns_list *l;
	int r;

	r = netns_self_stat(self);
	if (r < 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->self_inode = (uint64_t)self->st_ino;
	*cap = 0;
	r = netns_add(l, cap, l->self_inode, NULL, NETNS_SELF_PATH);
	if (r < 0) {
		netns_list_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

/* The own namespace plus, with all, every other one found under /run/netns
 * and /proc; without, /run/netns is read only to name the own namespace. */
static int netns_list(bool all, struct netns_list **ret)
{
	struct netns_list *l;
	struct stat self;
	size_t cap;
	int r;

	r = netns_list_new(&l, &cap, &self);
	if (r < 0)
		return r;
	r = netns_scan_run(l, &cap, self.st_dev, all ? NULL : &l->self_inode);
	if (r >= 0 && all)
		r = netns_scan_proc(l, &cap, self.st_dev);
	if (r < 0) {
		netns_list_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

int netns_enumerate(struct netns_list **ret)
{
	return netns_list(true, ret);
}

int netns_list_self(struct netns_list **ret)
{
	return netns_list(false, ret);
}

/* Opens e and checks it still is the namespace that was listed. */
static int netns_open_checked(const struct netns_entry *e)
{
	struct stat st;
	int fd;

	fd = open(e->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != e->inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* Back to the namespace held open by orig, and proof that the thread is
 * there: the inode it has now is the one it had before. */
static int netns_return(int orig, uint64_t home)
{
	uint64_t now;

	if (setns(orig, CLONE_NEWNET) < 0 || netns_self_inode(&now) < 0 || now != home)
		return -ENOTRECOVERABLE;
	return 0;
}

int netns_run_in(const struct netns_entry *e, netns_fn fn, void *userdata)
{
	struct stat st;
	int orig, target, r;

	if (e->self)
		return fn(e, userdata);
	orig = open(NETNS_SELF_PATH, O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return -errno;
	if (fstat(orig, &st) < 0) {
		r = -errno;
		close(orig);
		return r;
	}
	target = netns_open_checked(e);
	if (target < 0) {
		close(orig);
		return target;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		r = -errno;
	} else {
		r = fn(e, userdata);
		if (netns_return(orig, (uint64_t)st.st_ino) < 0)
			r = -ENOTRECOVERABLE;
	}
	close(target);
	close(orig);
	return r;
}
