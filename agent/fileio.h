/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Replaces path with data atomically: a temporary file in the same
 * directory, created exclusively and never through a link, then rename(2).
 * A symlink planted at path is replaced, never followed; a parent directory
 * that is a symlink is refused (-ELOOP). A missing parent directory is created
 * (one level, 0755) because /run is empty after boot. Returns 0 or -errno. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fileio_write_atomic, and fsync'ed (file, then directory) so that after a
 * power cut the path holds the old content or the new, never a torn file. */
int fileio_write_durable(const char *path, const void *data, size_t len, mode_t mode);

/* Reads an input file the agent must never block on: a regular file of at
 * most max bytes (more: -EFBIG), or /dev/null, which reads as empty. A FIFO
 * (-ESPIPE), socket (-ENXIO), other device (-ENODEV) or directory (-EISDIR)
 * is refused at once, before any read. With nofollow a symlink at the last
 * component is refused (-ELOOP). NUL-terminates; caller frees *ret. */
int fileio_read_input(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len);

/* The reason for fileio_read_input's errors, worded for one log line. */
const char *fileio_strerror(int r);

/* fileio_read_input without following a symlink, for a file smaller than
 * max bytes (max bytes or more: -EFBIG). */
int fileio_read_small(const char *path, size_t max, char **ret, size_t *ret_len);
