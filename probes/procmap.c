/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "procmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------- parsers --- */

int procmap_parse_socket_link(const char *s, size_t len, uint64_t *ret)
{
	static const char prefix[] = "socket:[";
	const size_t plen = sizeof(prefix) - 1;
	uint64_t v = 0;
	size_t i;

	if (len < plen + 2 || memcmp(s, prefix, plen) != 0 || s[len - 1] != ']')
		return -EINVAL;
	for (i = plen; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* The path of one "ID:CONTROLLERS:PATH" line (not NUL-terminated) when it
 * is the unified hierarchy ("0::PATH") or, with unified unset, the
 * name=systemd one of cgroup v1; NULL otherwise. */
static const char *cgroup_line(const char *p, size_t ll, bool unified, size_t *ret_len)
{
	static const char sd[] = "name=systemd:";
	const char *c1 = memchr(p, ':', ll), *path;
	size_t rest;

	if (!c1)
		return NULL;
	rest = ll - (size_t)(c1 + 1 - p);
	if (unified) {
		if (c1 != p + 1 || p[0] != '0' || rest < 1 || c1[1] != ':')
			return NULL;
		path = c1 + 2;
	} else {
		if (rest < sizeof(sd) - 1 || memcmp(c1 + 1, sd, sizeof(sd) - 1) != 0)
			return NULL;
		path = c1 + sizeof(sd);
	}
	*ret_len = ll - (size_t)(path - p);
	return path;
}

/* Only newline-terminated lines count: a read cut short by the buffer
 * leaves a partial last line, and a partial path would name a wrong unit. */
static const char *cgroup_find(const char *text, size_t len, bool unified, size_t *ret_len)
{
	const char *p = text, *end = text + len, *nl, *path;

	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		path = cgroup_line(p, (size_t)(nl - p), unified, ret_len);
		if (path && *ret_len > 0 && path[0] == '/')
			return path;
	}
	return NULL;
}

int procmap_cgroup_path(const char *text, size_t len, char **ret)
{
	const char *path;
	size_t plen;
	char *s;

	path = cgroup_find(text, len, true, &plen);
	if (!path)
		path = cgroup_find(text, len, false, &plen);
	if (!path)
		return -ENXIO;
	if (memchr(path, '\0', plen))
		return -EINVAL;
	s = strndup(path, plen);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static bool unit_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '-' || c == '_' || c == '.' || c == '\\';
}

static bool unit_suffix_ok(const char *s, size_t n)
{
	static const char *const types[] = {
		"service", "socket", "target", "device", "mount", "automount",
		"swap", "timer", "path", "slice", "scope",
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == n && memcmp(types[i], s, n) == 0)
			return true;
	return false;
}

/* systemd's unit_name_is_valid() for plain names and instances (a@b.x), not
 * templates (a@.x): the only kinds that own cgroups. */
static bool unit_name_ok(const char *s, size_t n)
{
	const char *dot = NULL, *at = NULL;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '@') {
			if (at)
				return false;
			at = s + i;
		} else if (!unit_char_ok(s[i])) {
			return false;
		}
		if (s[i] == '.')
			dot = s + i;
	}
	if (!dot || dot == s || !unit_suffix_ok(dot + 1, n - (size_t)(dot + 1 - s)))
		return false;
	if (at && (at == s || at + 1 >= dot || at > dot))
		return false;
	return true;
}

/* A component with systemd's cgroup escaping undone: a leading '_' is
 * added to names that would clash with kernel files. */
static void cg_unescape(const char **s, size_t *n)
{
	if (*n > 0 && (*s)[0] == '_') {
		(*s)++;
		(*n)--;
	}
}

static bool is_slice(const char *s, size_t n)
{
	cg_unescape(&s, &n);
	return n >= 7 && memcmp(s + n - 6, ".slice", 6) == 0 && unit_name_ok(s, n) && !memchr(s, '@', n);
}

static const char *skip_slices(const char *p)
{
	for (;;) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!is_slice(p, n))
			return p;
		p += n;
	}
}

/* The unit named by the first component of p, which must not be a slice. */
static int decode_unit(const char *p, char **ret, const char **ret_rest)
{
	size_t n = strcspn(p, "/");
	const char *s = p;
	char *u;

	if (n < 3)
		return -ENXIO;
	cg_unescape(&s, &n);
	if (!unit_name_ok(s, n) || (n >= 6 && memcmp(s + n - 6, ".slice", 6) == 0))
		return -ENXIO;
	u = strndup(s, n);
	if (!u)
		return -ENOMEM;
	*ret = u;
	*ret_rest = p + strcspn(p, "/");
	return 0;
}

/* user@UID.service: the user's service manager, with the user's units below. */
static bool is_user_manager(const char *u)
{
	size_t n = strlen(u);

	if (n < 14 || strncmp(u, "user@", 5) != 0 || strcmp(u + n - 8, ".service") != 0)
		return false;
	for (size_t i = 5; i < n - 8; i++)
		if (u[i] < '0' || u[i] > '9')
			return false;
	return true;
}

int procmap_cgroup_unit(const char *path, char **ret_unit, char **ret_user_unit)
{
	char *unit = NULL, *user = NULL;
	const char *rest;
	int r;

	r = decode_unit(skip_slices(path), &unit, &rest);
	if (r < 0)
		return r;
	if (is_user_manager(unit)) {
		r = decode_unit(skip_slices(rest), &user, &rest);
		if (r == -ENOMEM) {
			free(unit);
			return r;
		}
	}
	if (ret_unit)
		*ret_unit = unit;
	else
		free(unit);
	if (ret_user_unit)
		*ret_user_unit = user;
	else
		free(user);
	return 0;
}

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The id inside one component, or NULL: PREFIX-ID.scope for the runtimes
 * that ask systemd for a scope, or a bare ID under /docker/ (cgroupfs
 * driver) or under a Kubernetes pod cgroup (podUID/ID). */
static const char *container_in(const char *c, size_t n, const char *prev, size_t prevn)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);

		if (n == pl + 64 + 6 && memcmp(c, prefixes[i], pl) == 0 &&
		    memcmp(c + n - 6, ".scope", 6) == 0 && is_hex64(c + pl, 64))
			return c + pl;
	}
	if (is_hex64(c, n) && prev &&
	    ((prevn == 6 && memcmp(prev, "docker", 6) == 0) || (prevn > 3 && memcmp(prev, "pod", 3) == 0)))
		return c;
	return NULL;
}

int procmap_cgroup_container(const char *path, char **ret)
{
	const char *p = path, *prev = NULL, *id;
	size_t n, prevn = 0;
	char *s;

	for (;;) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			return -ENXIO;
		id = container_in(p, n, prev, prevn);
		if (id)
			break;
		prev = p;
		prevn = n;
		p += n;
	}
	s = strndup(id, 64);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* ------------------------------------------------------ container names --- */

static int name_dup(const char *s, char **ret)
{
	size_t n;

	if (!s)
		return -ENXIO;
	if (s[0] == '/')
		s++;
	n = strnlen(s, PROCMAP_CONTAINER_NAME_MAX);
	if (n == 0)
		return -ENXIO;
	*ret = strndup(s, n);
	return *ret ? 0 : -ENOMEM;
}

/* containers/storage: [{"id": ID, "names": [NAME, ...]}, ...] */
static const char *storage_name(json_t *list, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e) {
		json_t *names = json_object_get(e, "names");

		if (json_is_string(json_object_get(e, "id")) &&
		    strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
			return json_string_value(json_array_get(names, 0));
	}
	return NULL;
}

int procmap_container_name_parse(const char *text, size_t len, const char *id, char **ret)
{
	static const char *const annotations[] = {
		"io.kubernetes.cri.container-name",     /* containerd */
		"io.kubernetes.container.name",         /* CRI-O */
	};
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *name = NULL;
	int r;

	if (!root)
		return -ENXIO;
	if (json_is_array(root)) {
		name = storage_name(root, id);
	} else if (json_is_object(root)) {
		name = json_string_value(json_object_get(root, "Name"));
		for (size_t i = 0; !name && i < sizeof(annotations) / sizeof(annotations[0]); i++)
			name = json_string_value(json_object_get(json_object_get(root, "annotations"), annotations[i]));
	}
	r = name_dup(name, ret);
	json_decref(root);
	return r;
}

/* The runtime's files are root's, but a container's name is chosen by
 * whoever started it: bounded read of a regular file, no symlink at the end. */
static int read_bounded(const char *path, size_t limit, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t k;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > limit) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc(limit);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < limit && (k = read(fd, buf + len, limit - len)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		len += (size_t)k;
	}
	close(fd);
	if (r == 0 && len == limit)
		r = -EFBIG;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int procmap_container_name(const char *root, const char *id, char **ret)
{
	static const struct {
		const char *fmt;
		size_t limit;
	} files[] = {
		{ "%s/var/lib/docker/containers/%s/config.v2.json", 1u << 20 },
		{ "%s/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json", 1u << 20 },
		{ NULL, 8u << 20 },     /* one list for every container */
	};
	char path[PATH_MAX];
	int r = -ENXIO;

	if (!is_hex64(id, strlen(id)))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && r != 0 && r != -ENOMEM; i++) {
		char *text = NULL;
		size_t len = 0;

		if (!files[i].fmt)
			snprintf(path, sizeof(path), "%s/var/lib/containers/storage/overlay-containers/containers.json",
				 root);
		else
			snprintf(path, sizeof(path), files[i].fmt, root, id);
		r = read_bounded(path, files[i].limit, &text, &len);
		if (r < 0) {
			r = r == -ENOMEM ? r : -ENXIO;
			continue;
		}
		r = procmap_container_name_parse(text, len, id, ret);
		free(text);
	}
	return r;
}

/* ------------------------------------------------------------- /proc --- */

void procmap_owner_clear(struct procmap_owner *o)
{
	free(o->comm);
	free(o->exe);
	free(o->unit);
	free(o->user_unit);
	free(o->container);
	free(o->container_name);
	*o = (struct procmap_owner){ 0 };
}

void procmap_result_free(struct procmap_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		procmap_owner_clear(&r->owners[i]);
	free(r->owners);
	free(r);
}

/* Reads a small /proc file whole; *ret_full says it did not fit. */
static int read_small(int dirfd, const char *rel, char *buf, size_t size, size_t *ret_len,
		      bool *ret_full)
{
	size_t len = 0;
	ssize_t k;
	int fd;

	fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size && (k = read(fd, buf + len, size - len)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			k = -errno;
			close(fd);
			return (int)k;
		}
		len += (size_t)k;
	}
	close(fd);
	*ret_len = len;
	*ret_full = len == size;
	return 0;
}

static char *read_comm(int pidfd)
{
	char buf[64];
	size_t len = 0;
	bool full;

	if (read_small(pidfd, "comm", buf, sizeof(buf), &len, &full) < 0)
		return NULL;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	return strndup(buf, strnlen(buf, len));
}

static char *read_exe(int pidfd)
{
	char buf[PATH_MAX + 1];
	ssize_t k;

	k = readlinkat(pidfd, "exe", buf, sizeof(buf));
	if (k <= 0)
		return NULL;
	if ((size_t)k == sizeof(buf))
		k--;
	return strndup(buf, (size_t)k);
}

/* unit, user unit and container from /proc/PID/cgroup; what is missing stays NULL. */
static int read_cgroup(int pidfd, struct procmap_owner *o)
{
	char *buf, *path = NULL;
	size_t len = 0;
	bool full;
	int r;

	buf = malloc(65536);
	if (!buf)
		return -ENOMEM;
	r = read_small(pidfd, "cgroup", buf, 65536, &len, &full);
	if (r >= 0)
		r = procmap_cgroup_path(buf, len, &path);
	free(buf);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	r = procmap_cgroup_unit(path, &o->unit, &o->user_unit);
	if (r != -ENOMEM)
		r = procmap_cgroup_container(path, &o->container);
	free(path);
	if (r == 0 && o->container)
		r = procmap_container_name("/", o->container, &o->container_name);
	return r == -ENOMEM ? r : 0;
}

/* What is known of a process; what cannot be read stays NULL (it may have
 * exited, or belong to someone else). */
static int owner_read(int procfd, pid_t pid, struct procmap_owner *ret)
{
	struct procmap_owner o = { .status = PROCMAP_FOUND, .pid = pid };
	char rel[32];
	int pidfd, r;

	snprintf(rel, sizeof(rel), "%d", (int)pid);
	pidfd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pidfd >= 0) {
		o.comm = read_comm(pidfd);
		o.exe = read_exe(pidfd);
		r = read_cgroup(pidfd, &o);
		close(pidfd);
		if (r < 0) {
			procmap_owner_clear(&o);
			return r;
		}
	}
	*ret = o;
	return 0;
}

static int dup_str(const char *s, char **ret)
{
	if (!s) {
		*ret = NULL;
		return 0;
	}
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int owner_copy(const struct procmap_owner *src, struct procmap_owner *dst)
{
	struct procmap_owner o = { .status = src->status, .pid = src->pid };

	if (dup_str(src->comm, &o.comm) < 0 || dup_str(src->exe, &o.exe) < 0 ||
	    dup_str(src->unit, &o.unit) < 0 || dup_str(src->user_unit, &o.user_unit) < 0 ||
	    dup_str(src->container, &o.container) < 0 || dup_str(src->container_name, &o.container_name) < 0) {
		procmap_owner_clear(&o);
		return -ENOMEM;
	}
	*dst = o;
	return 0;
}

/* ------------------------------------------------------------- walk --- */

struct wanted {
	uint64_t inode;
	size_t idx;
};

struct walk {
	int procfd;
	struct wanted *want;    /* sorted by inode */
	size_t n;
	size_t left;            /* not found yet */
	struct procmap_result *res;
};

static int wanted_cmp(const void *a, const void *b)
{
	const struct wanted *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Marks every wanted entry with this inode as held by pid; returns how many. */
static size_t walk_mark(struct walk *w, uint64_t inode, pid_t pid)
{
	struct wanted key = { .inode = inode }, *hit;
	size_t marked = 0;

	hit = bsearch(&key, w->want, w->n, sizeof(*w->want), wanted_cmp);
	if (!hit)
		return 0;
	while (hit > w->want && hit[-1].inode == inode)
		hit--;
	for (; hit < w->want + w->n && hit->inode == inode; hit++) {
		struct procmap_owner *o = &w->res->owners[hit->idx];

		if (o->status == PROCMAP_FOUND)
			continue;
		o->status = PROCMAP_FOUND;
		o->pid = pid;
		marked++;
	}
	return marked;
}

/* Fills in the process details for the entries this pid was just found to hold. */
static int walk_fill(struct walk *w, pid_t pid)
{
	struct procmap_owner info;
	int r;

	r = owner_read(w->procfd, pid, &info);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < w->res->n; i++) {
		struct procmap_owner *o = &w->res->owners[i];

		if (o->status == PROCMAP_FOUND && o->pid == pid)
			r = owner_copy(&info, o);
	}
	procmap_owner_clear(&info);
	return r;
}

/* One process's fd table. A process we may not look into is noted, one
 * that exited meanwhile is not. */
static int walk_pid(struct walk *w, pid_t pid)
{
	char rel[32], link[64];
	struct dirent *de;
	size_t marked = 0;
	uint64_t inode;
	ssize_t k;
	DIR *d;
	int fd;

	snprintf(rel, sizeof(rel), "%d/fd", (int)pid);
	fd = openat(w->procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			w->res->denied = true;
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno == ENOMEM ? -ENOMEM : 0;
	}
	while (w->left > marked && (de = readdir(d))) {
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;       /* "." and ".." */
		k = readlinkat(fd, de->d_name, link, sizeof(link));
		if (k <= 0 || (size_t)k >= sizeof(link))
			continue;
		if (procmap_parse_socket_link(link, (size_t)k, &inode) == 0)
			marked += walk_mark(w, inode, pid);
	}
	closedir(d);
	w->left -= marked;
	return marked ? walk_fill(w, pid) : 0;
}

static bool parse_pid(const char *s, pid_t *ret)
{
	long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT_MAX / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*ret = (pid_t)v;
	return v > 0;
}

static int walk_all(struct walk *w)
{
	struct dirent *de;
	int fd, r = 0;
	pid_t pid;
	DIR *d;

	fd = dup(w->procfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (r == 0 && w->left > 0 && (de = readdir(d)))
		if (parse_pid(de->d_name, &pid))
			r = walk_pid(w, pid);
	closedir(d);
	return r;
}

static int walk_init(struct walk *w, const uint64_t *inodes, size_t n)
{
	w->res = calloc(1, sizeof(*w->res));
	w->want = calloc(n ? n : 1, sizeof(*w->want));
	if (w->res)
		w->res->owners = calloc(n ? n : 1, sizeof(*w->res->owners));
	if (!w->res || !w->want || !w->res->owners)
		return -ENOMEM;
	w->res->n = n;
	for (size_t i = 0; i < n; i++)
		w->want[i] = (struct wanted){ .inode = inodes[i], .idx = i };
	qsort(w->want, n, sizeof(*w->want), wanted_cmp);
	w->n = n;
	w->left = n;
	return 0;
}

int procmap_lookup(const char *proc_dir, const uint64_t *inodes, size_t n,
		   struct procmap_result **ret)
{
	struct walk w = { .procfd = -1 };
	int r;

	r = walk_init(&w, inodes, n);
	if (r >= 0 && n > 0) {
		w.procfd = open(proc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = w.procfd < 0 ? -errno : walk_all(&w);
	}
	if (w.procfd >= 0)
		close(w.procfd);
	free(w.want);
	if (r < 0) {
		procmap_result_free(w.res);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		if (w.res->owners[i].status != PROCMAP_FOUND)
			w.res->owners[i].status = w.res->denied ? PROCMAP_DENIED : PROCMAP_UNKNOWN;
	*ret = w.res;
	return 0;
}
