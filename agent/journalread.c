/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "journalread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>

#define FIELD_PREFIX "PORT53GUARD_"
#define VALUE_MAX 512           /* longer values are cut: details, not evidence */
#define PRELUDE_STEPS 256       /* how far back to look for the state at since */
#define REOPEN_EVERY 20000      /* entries between reopenings (see reopen_at_cursor) */

/* The events the timeline reads; every other event is skipped by the
 * journal's own field index. */
static const char *const wanted[] = {
	"agent_started", "agent_stopping", "agent_stopped",
	"rules_applied", "rules_apply_failed", "rules_removed", "rules_kept",
	"rules_drift", "rules_restored", "rules_fallback", "rules_fallback_ended",
	"config_reloaded", "config_invalid", "config_kept", "policy_loaded",
	"enforcement_started", "summary", "listener_found", "listener_gone",
	"recursion_offered",
};

/* Events that say by themselves whether the agent ran and enforced. */
static bool sets_state(const char *ev)
{
	static const char *const s[] = { "summary", "agent_started", "agent_stopped", "rules_applied", "rules_removed" };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (strcmp(ev, s[i]) == 0)
			return true;
	return false;
}

int journalread_open(const struct journalread_source *src, sd_journal **ret)
{
	const char *files[2] = { src->file, NULL };

	if (src->file)
		return sd_journal_open_files(ret, files, 0);
	if (src->directory)
		return sd_journal_open_directory(ret, src->directory, 0);
	return sd_journal_open(ret, SD_JOURNAL_LOCAL_ONLY);
}

void journalread_close(sd_journal *j)
{
	if (j)
		sd_journal_close(j);
}

int journalread_last_boot_start(sd_journal *j, int64_t *ret_us)
{
	uint64_t rt, mono;
	sd_id128_t boot;
	int r;

	r = sd_journal_seek_tail(j);
	if (r < 0)
		return r;
	r = sd_journal_previous(j);
	if (r <= 0)
		return r < 0 ? r : -ENODATA;
	r = sd_journal_get_realtime_usec(j, &rt);
	if (r < 0)
		return r;
	r = sd_journal_get_monotonic_usec(j, &mono, &boot);
	if (r < 0)
		return r;
	*ret_us = (int64_t)(rt - (mono < rt ? mono : 0));
	return 0;
}

void journalread_cutoff(sd_journal *j, int64_t *ret_first_us, int64_t *ret_last_us)
{
	uint64_t from = 0, to = 0;

	*ret_first_us = *ret_last_us = -1;
	if (sd_journal_get_cutoff_realtime_usec(j, &from, &to) > 0) {
		*ret_first_us = (int64_t)from;
		*ret_last_us = (int64_t)to;
	}
}

/* One entry's fields, copied (the journal's pointers only last until the
 * next call) and NUL-terminated. */
struct entry {
	char buf[16384];
	size_t used;
	char boot_id[33];
	char event[64];
	char hostname[256];
	struct timeline_event ev;
};

static const char *keep(struct entry *e, const char *p, size_t n)
{
	char *s;

	if (n > VALUE_MAX)
		n = VALUE_MAX;
	if (e->used + n + 1 > sizeof(e->buf))
		return NULL;
	s = e->buf + e->used;
	memcpy(s, p, n);
	s[n] = '\0';
	e->used += n + 1;
	return s;
}

static void copy_field(char *dst, size_t len, const char *p, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static int read_entry(sd_journal *j, struct entry *e)
{
	const void *data;
	size_t len;
	uint64_t rt, mono;
	sd_id128_t boot;
	int r, f;

	memset(&e->ev, 0, sizeof(e->ev));
	e->used = 0;
	e->event[0] = e->hostname[0] = '\0';
	r = sd_journal_get_realtime_usec(j, &rt);
	if (r < 0)
		return r;
	e->ev.t_us = (int64_t)rt;
	if (sd_journal_get_monotonic_usec(j, &mono, &boot) >= 0) {
		sd_id128_to_string(boot, e->boot_id);
		e->ev.boot_id = e->boot_id;
		e->ev.boot_start_us = mono < rt ? (int64_t)(rt - mono) : 0;
	}
	SD_JOURNAL_FOREACH_DATA(j, data, len) {
		const char *d = data, *eq = memchr(d, '=', len);
		size_t klen;

		if (!eq)
			continue;
		klen = (size_t)(eq - d);
		if (klen == 9 && memcmp(d, "_HOSTNAME", 9) == 0) {
			copy_field(e->hostname, sizeof(e->hostname), eq + 1, len - klen - 1);
			continue;
		}
		if (klen <= strlen(FIELD_PREFIX) || memcmp(d, FIELD_PREFIX, strlen(FIELD_PREFIX)) != 0)
			continue;
		d += strlen(FIELD_PREFIX);
		klen -= strlen(FIELD_PREFIX);
		if (klen == 5 && memcmp(d, "EVENT", 5) == 0) {
			copy_field(e->event, sizeof(e->event), eq + 1, len - (size_t)(eq + 1 - (const char *)data));
			continue;
		}
		f = timeline_field_from_key(d, klen);
		if (f >= 0)
			e->ev.f[f] = keep(e, eq + 1, len - (size_t)(eq + 1 - (const char *)data));
	}
	e->ev.event = e->event[0] ? e->event : NULL;
	return 0;
}

/* Positions the journal so that the next sd_journal_next() lands on the last
 * state-setting event before since (or the first entry at or after since). */
static int seek_prelude(sd_journal *j, int64_t since_us)
{
	const void *data;
	size_t len;
	char *cursor = NULL;
	int r;

	r = sd_journal_seek_realtime_usec(j, (uint64_t)(since_us > 0 ? since_us : 0));
	if (r < 0)
		return r;
	for (int i = 0; i < PRELUDE_STEPS; i++) {
		r = sd_journal_previous(j);
		if (r <= 0)
			break;
		if (sd_journal_get_data(j, "PORT53GUARD_EVENT", &data, &len) < 0 || len <= 18 || len > 80)
			continue;
		char ev[64];

		copy_field(ev, sizeof(ev), (const char *)data + 18, len - 18);
		if (sets_state(ev)) {
			if (sd_journal_get_cursor(j, &cursor) < 0)
				break;
			r = sd_journal_seek_cursor(j, cursor);
			free(cursor);
			return r;
		}
	}
	return sd_journal_seek_realtime_usec(j, (uint64_t)(since_us > 0 ? since_us : 0));
}

/* The wall-clock time of a boot's first entry in the journal (the kernel's
 * first message, whose time journald derives from the kernel's own
 * timestamp), or -1. In a container, realtime minus monotonic is the host's
 * boot; the container's own first entry is its start. A handle of its own,
 * closed at once: boots are few. */
static int64_t boot_first_entry(const struct journalread_source *src, const char *boot_id)
{
	sd_journal *jb = NULL;
	char match[48];
	uint64_t rt;
	int64_t ret = -1;

	if (journalread_open(src, &jb) < 0)
		return -1;
	snprintf(match, sizeof(match), "_BOOT_ID=%s", boot_id);
	if (sd_journal_add_match(jb, match, 0) >= 0 && sd_journal_seek_head(jb) >= 0 && sd_journal_next(jb) > 0 &&
	    sd_journal_get_realtime_usec(jb, &rt) >= 0)
		ret = (int64_t)rt;
	sd_journal_close(jb);
	return ret;
}

/* Opens the source with the report's event matches. */
static int open_matched(const struct journalread_source *src, sd_journal **ret)
{
	sd_journal *j = NULL;
	char match[96];
	int r;

	r = journalread_open(src, &j);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		snprintf(match, sizeof(match), "PORT53GUARD_EVENT=%s", wanted[i]);
		r = sd_journal_add_match(j, match, 0);
		if (r < 0) {
			sd_journal_close(j);
			return r;
		}
	}
	sd_journal_set_data_threshold(j, 4096);
	*ret = j;
	return 0;
}

/* sd-journal keeps every window of the files it has read mapped, and those
 * pages count as the process's resident memory: over a journal of a
 * million entries that is hundreds of MiB. Reopening at the same cursor
 * every so many entries drops them, so memory stays bounded whatever the
 * journal's size. */
static int reopen_at_cursor(const struct journalread_source *src, sd_journal **j)
{
	char *cursor = NULL;
	int r;

	r = sd_journal_get_cursor(*j, &cursor);
	if (r < 0)
		return r;
	sd_journal_close(*j);
	*j = NULL;
	r = open_matched(src, j);
	if (r >= 0)
		r = sd_journal_seek_cursor(*j, cursor);
	/* on the entry that was current (not read yet): the loop reads it */
	if (r >= 0)
		r = sd_journal_next(*j);
	free(cursor);
	return r < 0 ? r : 0;
}

int journalread_feed(const struct journalread_source *src, struct timeline *tl, char *ret_hostname, size_t len)
{
	sd_journal *j = NULL;
	struct entry *e;
	char boot[33] = "";
	int64_t boot_start = 0;
	unsigned since_open = 0;
	int r;

	r = open_matched(src, &j);
	if (r < 0)
		return r;
	r = seek_prelude(j, tl->since_us);
	e = r < 0 ? NULL : malloc(sizeof(*e));
	if (!e) {
		sd_journal_close(j);
		return r < 0 ? r : -ENOMEM;
	}
	if (len)
		ret_hostname[0] = '\0';
	while ((r = sd_journal_next(j)) > 0) {
		if (++since_open >= REOPEN_EVERY) {
			since_open = 0;
			r = reopen_at_cursor(src, &j);
			if (r < 0)
				break;
		}
		if (read_entry(j, e) < 0)
			continue;
		if (e->ev.t_us >= tl->until_us)
			break;
		if (!e->ev.event)
			continue;
		if (e->ev.boot_id && strcmp(e->ev.boot_id, boot) != 0) {
			int64_t first = boot_first_entry(src, e->ev.boot_id);

			snprintf(boot, sizeof(boot), "%s", e->ev.boot_id);
			boot_start = first > e->ev.boot_start_us ? first : e->ev.boot_start_us;
		}
		if (e->ev.boot_id)
			e->ev.boot_start_us = boot_start;
		if (e->hostname[0] && len)
			snprintf(ret_hostname, len, "%s", e->hostname);
		r = timeline_add(tl, &e->ev);
		if (r < 0)
			break;
	}
	free(e);
	if (j)
		sd_journal_close(j);
	return r < 0 ? r : 0;
}

/* ---- Forward Secure Sealing ---- */

int journalread_header_sealed(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t compatible;

	/* struct Header: signature[8] "LPKSHHRH", le32 compatible_flags,
	 * le32 incompatible_flags, ... (systemd's journal-def.h). */
	if (len < 16 || memcmp(p, "LPKSHHRH", 8) != 0)
		return -EINVAL;
	compatible = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
	return (compatible & 1u) ? 1 : 0;   /* HEADER_COMPATIBLE_SEALED */
}

static void seal_file(const char *path, struct journalread_seal *s)
{
	unsigned char h[16];
	int fd, r = -EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		if (pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h))
			r = journalread_header_sealed(h, sizeof(h));
		close(fd);
	}
	s->files++;
	if (r < 0)
		s->unreadable++;
	else if (r == 1)
		s->sealed++;
}

static bool journal_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 8 && strcmp(n + l - 8, ".journal") == 0) || (l > 9 && strcmp(n + l - 9, ".journal~") == 0);
}

/* The files sd_journal reads from a directory: its *.journal files and
 * those one level down (a machine-id directory). */
static void seal_dir(const char *dir, int depth, const char *only_sub, struct journalread_seal *s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if ((de->d_type == DT_REG || de->d_type == DT_UNKNOWN) && journal_name(de->d_name))
			seal_file(path, s);
		else if (de->d_type == DT_DIR && depth == 0 && (!only_sub || strcmp(de->d_name, only_sub) == 0))
			seal_dir(path, 1, NULL, s);
	}
	closedir(d);
}

void journalread_seal_status(const struct journalread_source *src, struct journalread_seal *ret)
{
	char mid[33];
	sd_id128_t m;

	memset(ret, 0, sizeof(*ret));
	if (src->file) {
		seal_file(src->file, ret);
		return;
	}
	if (src->directory) {
		seal_dir(src->directory, 0, NULL, ret);
		return;
	}
	if (sd_id128_get_machine(&m) < 0)
		return;
	sd_id128_to_string(m, mid);
	seal_dir("/var/log/journal", 0, mid, ret);
	seal_dir("/run/log/journal", 0, mid, ret);
}
