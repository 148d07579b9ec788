/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "cli.h"
#include "policywatch.h"
#include "privs.h"
#include "scanhelper.h"

/* The loop wakes at least this often: timers, watchdog and drift repair
 * deadlines are checked at this granularity. */
#define TICK_MS 200

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One agent per network namespace: flock(2) on RUN_DIR/agent-INODE.lock.
 * Only root (or the service's own user) can create files there, so no
 * other user can keep the agent from starting; the lock dies with the
 * process, so a crash leaves nothing stale. Returns 0, or the exit code. */
static int take_lock(struct daemon *d, int *ret_fd)
{
	char msg[200];
	pid_t holder = 0;
	int r = state_lock(&d->ns, ret_fd, &holder);

	if (r == -EBUSY) {
		if (holder)
			snprintf(msg, sizeof(msg), "another port53guard agent runs in this network namespace (pid %ld)",
				 (long)holder);
		else
			snprintf(msg, sizeof(msg), "another port53guard agent runs in this network namespace");
		log_error("agent_failed", LOG_STR("step", "lock"), LOG_STR("error", msg),
			  LOG_STR("dir", state_run_dir()));
		return EXIT_ERROR;
	}
	/* Any other failure (a read-only or foreign run directory) must not
	 * leave the host without rules: go on without the lock. */
	if (r < 0) {
		*ret_fd = -1;
		log_warning("lock_unavailable", LOG_STR("dir", state_run_dir()),
			    LOG_STR("error", r == -EPERM ? "the directory is writable by others or owned by another user"
				    : strerror(-r)),
			    LOG_STR("effect", "running without the one-agent-per-namespace lock"));
	}
	return 0;
}

static int epoll_add(struct daemon *d, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	/* A status reader or log pipe that goes away must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->tickfd < 0 || d->epfd < 0)
		return -errno;
	if (timerfd_settime(d->tickfd, 0, &its, NULL) < 0)
		return -errno;
	if (epoll_add(d, d->sigfd) < 0 || epoll_add(d, d->tickfd) < 0)
		return -errno;
	return 0;
}

static void log_config_error(const struct config_error *err)
{
	log_error("config_invalid", LOG_STR("file", err->file), LOG_UINT("line", err->line),
		  LOG_STR("section", err->section), LOG_STR("key", err->key),
		  LOG_STR("value", err->value), LOG_STR("error", err->message));
}

/* Legal configuration that is probably not meant: one warning event each,
 * named after its finding code (allow_broad, exempt_interface_missing). */
static void log_config_warning(const struct config_warning *w, void *userdata)
{
	(void)userdata;
	log_warning(w->code, LOG_STR("file", w->where.file), LOG_UINT("line", w->where.line),
		    LOG_STR("key", w->where.key), LOG_STR("value", w->where.value),
		    LOG_STR("problem", w->where.message));
}

void daemon_reload(struct daemon *d)
{
	struct config_error err;
	struct config_sources src = { 0 };
	struct config *c = NULL;
	struct ruleset *rs = NULL;
	char csum[STATE_SHA256_HEX];
	int r;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)d->now_ms * 1000ull);
	r = config_load_sources(d->config_path, &c, &src, &err);
	if (r < 0) {
		log_config_error(&err);
		log_warning("config_kept", LOG_STR("reason", "the new configuration is invalid"));
		d->config_reload_ok = false;
		goto out;
	}
	r = enforce_rebuild(d, c, &rs);
	if (r < 0) {
		log_warning("config_kept", LOG_STR("reason", "the new rules cannot be built"));
		config_sources_free(&src);
		config_free(c);
		d->config_reload_ok = false;
		goto out;
	}
	config_free(d->config);
	d->config = c;
	d->mode_forced = false;         /* a new configuration, its own mode */
	config_sources_free(&d->sources);
	d->sources = src;
	enforce_fallback_end(d);
	log_setup(c->log_format, c->log_level);
	enforce_replace_ruleset(d, rs);
	policywatch_setup(d);
	observe_reconfigure(d);
	state_config_sha256(&d->sources, csum);
	log_info("config_reloaded", LOG_UINT("files", c->n_files), LOG_STR("mode", agent_mode_to_string(c->mode)),
		 LOG_UINT("summary_interval_s", c->summary_interval), LOG_STR("config_sha256", csum));
	config_warnings(c, CONFIG_WARN_INTERFACES, log_config_warning, NULL);
	d->config_reload_ok = true;
out:
	d->config_reload_at = time(NULL);
	report_write_now(d);
	sd_notify(0, "READY=1");
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("reload_requested", LOG_UINT("sender_pid", si.ssi_pid));
			daemon_reload(d);
		} else {
			log_info("agent_stopping", LOG_STR("signal", strsignal((int)si.ssi_signo)),
				 LOG_UINT("sender_pid", si.ssi_pid));
			d->stop = true;
		}
	}
}

static void on_tick(struct daemon *d)
{
	uint64_t expirations;

	while (read(d->tickfd, &expirations, sizeof(expirations)) == sizeof(expirations))
		;
	/* Four pings per watchdog period: late enough to mean the loop is
	 * alive, early enough to survive one slow turn. */
	if (d->watchdog_usec && d->now_ms >= d->next_watchdog_ms) {
		sd_notify(0, "WATCHDOG=1");
		d->next_watchdog_ms = d->now_ms + d->watchdog_usec / 4000u;
	}
	enforce_tick(d);
	observe_tick(d);
	report_tick(d);
}

static int loop(struct daemon *d)
{
	struct epoll_event evs[16];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, evs, 16, TICK_MS * 2);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		d->now_ms = daemon_now_ms();
		for (int i = 0; i < n && !d->stop; i++) {
			int fd = evs[i].data.fd;

			if (fd == d->sigfd)
				on_signal(d);
			else if (fd == d->tickfd)
				on_tick(d);
			else if (d->monitor && fd == enforce_monitor_fd(d))
				enforce_on_events(d);
			else if (policywatch_owns_fd(d, fd))
				policywatch_on_event(d);
			else if (d->links && fd == enforce_links_fd(d))
				enforce_on_links(d);
			else
				observe_on_fd(d, fd);
		}
	}
	return 0;
}

static int start(struct daemon *d)
{
	int r;

	/* First, while privileged and before any other socket is open. */
	r = scanhelper_start(&d->scanhelper);
	if (r < 0)
		log_error("listener_scan_failed", LOG_STR("error", "cannot start the scan helper"),
			  LOG_STR("reason", strerror(-r)), LOG_STR("effect", "no listener scans; enforcement goes on"));
	r = setup_loop(d);
	if (r < 0) {
		log_error("agent_failed", LOG_STR("step", "event loop"), LOG_STR("error", strerror(-r)));
		return r;
	}
	r = enforce_open(d);
	if (r < 0)
		return r;
	if (enforce_monitor_fd(d) >= 0 && epoll_add(d, enforce_monitor_fd(d)) < 0)
		return -errno;
	if (enforce_links_fd(d) >= 0 && epoll_add(d, enforce_links_fd(d)) < 0)
		return -errno;
	observe_open(d);        /* degraded capture is not fatal */
	r = enforce_initial(d);
	if (r < 0)
		return r;
	policywatch_setup(d);
	observe_initial(d);
	privs_drop_unneeded();
	return 0;
}

static void shutdown_agent(struct daemon *d)
{
	sd_notify(0, "STOPPING=1");
	policywatch_close(d);
	enforce_stop(d);
	/* The last report is what `status` shows once the agent is gone: write
	 * it while the listeners and the capture are still known. */
	report_write_now(d);
	observe_close(d);
	enforce_close(d);
	scanhelper_stop(d->scanhelper);
	d->scanhelper = NULL;
}

/* Fail closed: an unusable configuration does not stop the agent; the
 * last known good one, or the built-in defaults, run instead. */
static int load_config(struct daemon *d)
{
	struct config_error err;
	char *line;
	int r;

	r = config_load_sources(d->config_path, &d->config, &d->sources, &err);
	if (r == 0)
		return 0;
	log_config_error(&err);
	line = config_error_string(&err);
	snprintf(d->config_error, sizeof(d->config_error), "the configuration is invalid: %s",
		 line ? line : err.message);
	free(line);
	return enforce_fallback_config(d);
}

static void free_daemon(struct daemon *d)
{
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->tickfd >= 0)
		close(d->tickfd);
	config_sources_free(&d->sources);
	config_free(d->config);
	state_lkg_free(d->lkg);
	d->lkg = NULL;
}

int daemon_main(const char *config_path)
{
	struct daemon d = { .config_path = config_path, .epfd = -1, .sigfd = -1, .tickfd = -1 };
	char csum[STATE_SHA256_HEX] = "";
	int lock_fd = -1, r, ret = EXIT_ERROR;

	log_setup(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	r = state_ns_self(&d.ns);
	if (r < 0) {
		snprintf(d.ns.key, sizeof(d.ns.key), "host");
		log_warning("netns_unknown", LOG_STR("error", strerror(-r)),
			    LOG_STR("effect", "state and lock are kept as for the host's namespace"));
	}
	r = load_config(&d);
	if (r < 0) {
		log_error("agent_failed", LOG_STR("step", "config"), LOG_STR("error", strerror(-r)));
		free_daemon(&d);
		return EXIT_ERROR;
	}
	log_setup(d.config->log_format, d.config->log_level);
	/* Without it nothing the agent is for can be done; every other
	 * failure leaves it running and refusing. */
	if (!privs_have_net_admin()) {
		log_error("agent_failed", LOG_STR("step", "rules"),
			  LOG_STR("error", "no CAP_NET_ADMIN: the nftables table cannot be installed"),
			  LOG_STR("hint", "run as root, or with CAP_NET_ADMIN (the packaged unit grants it)"));
		free_daemon(&d);
		return EXIT_ERROR;
	}
	if (take_lock(&d, &lock_fd) != 0) {
		free_daemon(&d);
		return EXIT_ERROR;
	}
	d.start_mono_ms = d.now_ms = daemon_now_ms();
	d.start_wall = d.config_reload_at = d.listeners_scanned_at = time(NULL);
	d.config_reload_ok = true;
	if (sd_watchdog_enabled(0, &d.watchdog_usec) <= 0)
		d.watchdog_usec = 0;
	/* A fallback's configuration is not the files read: no hash of them. */
	if (!d.config_fallback)
		state_config_sha256(&d.sources, csum);
	log_info("agent_started", LOG_STR("version", PORT53GUARD_VERSION),
		 LOG_STR("mode", agent_mode_to_string(d.config->mode)), LOG_UINT("pid", getpid()),
		 LOG_UINT("summary_interval_s", d.config->summary_interval),
		 LOG_UINT("config_files", d.config->n_files), LOG_STR("config_sha256", csum));
	config_warnings(d.config, CONFIG_WARN_INTERFACES, log_config_warning, NULL);
	if (start(&d) == 0) {
		report_write_now(&d);
		sd_notify(0, "READY=1");
		r = loop(&d);
		ret = r < 0 ? EXIT_ERROR : EXIT_OK;
		if (r < 0)
			log_error("agent_failed", LOG_STR("step", "event loop"), LOG_STR("error", strerror(-r)));
	}
	shutdown_agent(&d);
	log_info("agent_stopped", LOG_INT("exit_status", ret));
	if (lock_fd >= 0)
		close(lock_fd);
	free_daemon(&d);
	return ret;
}
