/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Replaces path with data atomically: a temporary file in the same
 * directory, created exclusively and never through a link, then rename(2).
 * A symlink planted at path is replaced, never followed; a parent directory
 * that is a symlink is refused (-ELOOP). A missing parent directory is created
 * (one level, 0755) because /run is empty after boot. Returns 0 or -errno. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a small regular file (at most max bytes) without following a
 * symlink at its last component; NUL-terminates. Caller frees *ret. */
int fileio_read_small(const char *path, size_t max, char **ret, size_t *ret_len);
