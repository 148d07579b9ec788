/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The agent's events read back from the systemd journal (sd-journal, no
 * journalctl) into the timeline, and what the journal files say about
 * themselves (Forward Secure Sealing). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeline.h"

struct sd_journal;

/* Where to read: the local system journal (both NULL), one directory
 * (--directory) or one file (--file). */
struct journalread_source {
	const char *directory;
	const char *file;
};

struct journalread_seal {
	unsigned files;         /* journal files looked at */
	unsigned sealed;        /* of those, sealed (HEADER_COMPATIBLE_SEALED) */
	unsigned unreadable;    /* could not be opened or are not journal files */
};

int journalread_open(const struct journalread_source *src, struct sd_journal **ret);
void journalread_close(struct sd_journal *j);

/* The wall-clock start of the boot of the journal's newest entry (for the
 * local journal, this boot); -ENODATA for an empty journal. Call before
 * journalread_feed. */
int journalread_last_boot_start(struct sd_journal *j, int64_t *ret_us);

/* The journal's first and last entries (-1 when empty). */
void journalread_cutoff(struct sd_journal *j, int64_t *ret_first_us, int64_t *ret_last_us);

/* Feeds every agent event that bears on [tl->since, tl->until) to the
 * timeline, starting with the last state-setting one before since. Opens
 * src itself (again every so many entries, to bound memory). A boot starts
 * at its first entry in the journal, never before realtime minus monotonic.
 * ret_hostname (size len) gets the _HOSTNAME of the events. */
int journalread_feed(const struct journalread_source *src, struct timeline *tl, char *ret_hostname, size_t len);

/* 1 sealed, 0 not sealed, -EINVAL not a journal file header: the first
 * bytes of a journal file (at least 16 are read). Pure. */
int journalread_header_sealed(const void *buf, size_t len);

/* Looks at the header of each journal file the source covers. */
void journalread_seal_status(const struct journalread_source *src, struct journalread_seal *ret);
