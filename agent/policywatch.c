/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "policywatch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* Renames onto the name and writes closed on it are changes; so are the
 * name's removal and its rename away (the reload then fails and says so,
 * and the old rules stay). IN_CREATE is not: a file created in place is
 * still empty, its IN_CLOSE_WRITE follows. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

struct policywatch {
	int fd;
	char *path;
	const char *name;               /* last component, inside path */
};

int policywatch_new(const char *path, struct policywatch **ret)
{
	struct policywatch *w;
	char *slash;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->path = strdup(path);
	if (!w->path) {
		r = -ENOMEM;
		goto fail;
	}
	slash = strrchr(w->path, '/');
	w->name = slash + 1;
	if (!*w->name) {
		r = -EINVAL;
		goto fail;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* The directory: "/" for "/policy.json". */
	*slash = '\0';
	r = inotify_add_watch(w->fd, slash == w->path ? "/" : w->path, WATCH_MASK);
	*slash = '/';
	if (r < 0) {
		r = -errno;
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	policywatch_free(w);
	return r;
}

void policywatch_free(struct policywatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w);
}

int policywatch_fd(const struct policywatch *w)
{
	return w ? w->fd : -1;
}

const char *policywatch_path(const struct policywatch *w)
{
	return w->path;
}

const char *policywatch_change_name(enum policywatch_change c)
{
	switch (c) {
	case POLICYWATCH_WRITTEN:
		return "written";
	case POLICYWATCH_REPLACED:
		return "replaced";
	case POLICYWATCH_REMOVED:
		return "removed";
	case POLICYWATCH_NONE:
		break;
	}
	return "none";
}

static enum policywatch_change change_of(uint32_t mask)
{
	if (mask & IN_MOVED_TO)
		return POLICYWATCH_REPLACED;
	if (mask & IN_CLOSE_WRITE)
		return POLICYWATCH_WRITTEN;
	if (mask & (IN_DELETE | IN_MOVED_FROM))
		return POLICYWATCH_REMOVED;
	return POLICYWATCH_NONE;
}

int policywatch_read(struct policywatch *w, enum policywatch_change *ret)
{
	/* Aligned as the kernel's records are; room for many events. */
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	enum policywatch_change last = POLICYWATCH_NONE;
	ssize_t n;

	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			enum policywatch_change c;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: one of them may have been ours. */
				last = POLICYWATCH_WRITTEN;
				continue;
			}
			if (!ev->len || strcmp(ev->name, w->name) != 0)
				continue;
			c = change_of(ev->mask);
			if (c != POLICYWATCH_NONE)
				last = c;
		}
	}
	*ret = last;
	return 0;
}

/* ---- the agent's side ------------------------------------------------------ */

void policywatch_close(struct daemon *d)
{
	if (!d->policywatch)
		return;
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, policywatch_fd(d->policywatch), NULL);
	policywatch_free(d->policywatch);
	d->policywatch = NULL;
}

void policywatch_setup(struct daemon *d)
{
	const char *path = d->config->policy_file;
	struct epoll_event ev = { .events = EPOLLIN };
	struct policywatch *w = NULL;
	int r;

	if (d->policywatch && path && strcmp(policywatch_path(d->policywatch), path) == 0)
		return;
	policywatch_close(d);
	if (!path)
		return;
	r = policywatch_new(path, &w);
	if (r == 0) {
		ev.data.fd = policywatch_fd(w);
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
			r = -errno;
	}
	if (r < 0) {
		/* Not fatal: a SIGHUP still reloads the policy. */
		log_warning("policy_watch_failed", LOG_STR("file", path), LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "changes to the policy file need a SIGHUP"));
		policywatch_free(w);
		return;
	}
	d->policywatch = w;
	log_info("policy_watched", LOG_STR("file", path));
}

bool policywatch_owns_fd(const struct daemon *d, int fd)
{
	return d->policywatch && fd == policywatch_fd(d->policywatch);
}

void policywatch_on_event(struct daemon *d)
{
	enum policywatch_change c = POLICYWATCH_NONE;
	struct ruleset *rs = NULL;
	int r = policywatch_read(d->policywatch, &c);

	if (r < 0) {
		log_warning("policy_watch_failed", LOG_STR("file", policywatch_path(d->policywatch)),
			    LOG_STR("error", strerror(-r)), LOG_STR("effect", "changes to the policy file need a SIGHUP"));
		policywatch_close(d);
		return;
	}
	if (c == POLICYWATCH_NONE)
		return;
	log_info("policy_changed", LOG_STR("file", policywatch_path(d->policywatch)),
		 LOG_STR("change", policywatch_change_name(c)));
	/* In a fallback the configuration in use is not the operator's: read
	 * everything again, as a SIGHUP does, so a fixed file ends it. */
	if (d->config_fallback) {
		daemon_reload(d);
		return;
	}
	/* The configuration is unchanged: only the policy is read again, and
	 * a policy that does not build leaves the rules in force. */
	if (enforce_rebuild(d, d->config, &rs) < 0) {
		log_warning("config_kept", LOG_STR("reason", "the changed policy file is invalid"));
		report_write_now(d);
		return;
	}
	enforce_replace_ruleset(d, rs);
	report_write_now(d);
}
