/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int open_parent(const char *path, const char **ret_name)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash || slash[1] == '\0')
		return -EINVAL;
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		bool made = mkdir(dir, 0755) == 0;

		if (!made && errno != EEXIST)
			return -errno;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* The umask would narrow 0755 (to 0700 under umask 077) and
		 * the files inside are meant for every reader. */
		if (fd >= 0 && made && fchmod(fd, 0755) < 0) {
			int r = -errno;

			close(fd);
			return r;
		}
	}
	if (fd < 0)
		return errno == ENOTDIR ? -ELOOP : -errno;
	*ret_name = slash + 1;
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
	char tmp[NAME_MAX + 1];
	const char *name;
	int dfd, fd, r;

	dfd = open_parent(path, &name);
	if (dfd < 0)
		return dfd;
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid()) >= sizeof(tmp)) {
		close(dfd);
		return -ENAMETOOLONG;
	}
	/* A stale temporary from a crash may exist; it is ours to replace, but
	 * only as a plain unlink: O_EXCL below refuses anything planted after. */
	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	/* Durable: the data reaches the disk before the name points at it,
	 * so a power cut leaves the old file or the new one, never an empty
	 * one; the directory's fsync makes the rename itself stick. */
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r == 0 && durable && fsync(dfd) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dfd, tmp, 0);
	close(dfd);
	return r;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, false);
}

int fileio_write_durable(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, true);
}

static int refuse_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return -EISDIR;
	if (S_ISFIFO(mode))
		return -ESPIPE;
	if (S_ISSOCK(mode))
		return -ENXIO;
	return -ENODEV;
}

static bool is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

const char *fileio_strerror(int r)
{
	switch (r) {
	case -EISDIR:
		return "is a directory";
	case -ESPIPE:
		return "is a FIFO, not read (it could block)";
	case -ENXIO:
		return "is a socket, not read";
	case -ENODEV:
		return "is a device, not read";
	case -EFBIG:
		return "too large";
	case -ELOOP:
		return "is a symbolic link, not followed";
	default:
		return strerror(-r);
	}
}

static int read_bounded(int fd, size_t max, size_t hint, char **ret, size_t *ret_len)
{
	size_t cap = (hint < max ? hint : max) + 1, len = 0;
	char *buf = malloc(cap + 1), *p;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* One byte past max tells a file that is too large. */
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = errno == EAGAIN ? -ESPIPE : -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int fileio_read_input(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len)
{
	struct stat st;
	int fd, r;

	/* Look before opening: opening some devices has effects of its own
	 * (a watchdog starts, a tape rewinds). fstat below decides. */
	if ((nofollow ? lstat(path, &st) : stat(path, &st)) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode) && !is_dev_null(&st))
		return refuse_type(st.st_mode);
	/* O_NONBLOCK: a FIFO swapped in after the look opens at once instead
	 * of waiting for a writer, and is refused by fstat. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (is_dev_null(&st)) {
		/* The usual way to say "no configuration": empty. */
		r = read_bounded(fd, 0, 0, ret, ret_len);
	} else if (!S_ISREG(st.st_mode)) {
		r = refuse_type(st.st_mode);
	} else {
		r = read_bounded(fd, max, (size_t)st.st_size, ret, ret_len);
	}
	close(fd);
	return r;
}

int fileio_read_small(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return fileio_read_input(path, max ? max - 1 : 0, true, ret, ret_len);
}
