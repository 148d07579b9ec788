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
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "cli.h"
#include "privs.h"

/* The loop wakes at least this often: timers, watchdog and drift repair
 * deadlines are checked at this granularity. */
#define TICK_MS 200

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One agent per network namespace: an abstract unix socket is scoped to the
 * namespace and vanishes with the process, so a crash never leaves a stale
 * lock behind. */
static int take_lock(int *ret_fd)
{
	static const char name[] = "port53guard/agent";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sa.sun_path + 1, name, sizeof(name) - 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(name))) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_fd = fd;
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

static void reload(struct daemon *d)
{
	struct config_error err;
	struct config *c = NULL;
	struct ruleset *rs = NULL;
	int r;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)d->now_ms * 1000ull);
	r = config_load(d->config_path, &c, &err);
	if (r < 0) {
		log_config_error(&err);
		log_warning("config_kept", LOG_STR("reason", "the new configuration is invalid"));
		goto out;
	}
	r = enforce_rebuild(d, c, &rs);
	if (r < 0) {
		log_warning("config_kept", LOG_STR("reason", "the new rules cannot be built"));
		config_free(c);
		goto out;
	}
	config_free(d->config);
	d->config = c;
	log_setup(c->log_format, c->log_level);
	enforce_replace_ruleset(d, rs);
	observe_reconfigure(d);
	log_info("config_reloaded", LOG_UINT("files", c->n_files), LOG_STR("mode", agent_mode_to_string(c->mode)));
out:
	report_write_now(d);
	sd_notify(0, "READY=1");
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("reload_requested", LOG_UINT("sender_pid", si.ssi_pid));
			reload(d);
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
	observe_initial(d);
	privs_drop_unneeded(d->config->namespaces);
	return 0;
}

static void shutdown_agent(struct daemon *d)
{
	sd_notify(0, "STOPPING=1");
	enforce_stop(d);
	observe_close(d);
	enforce_close(d);
	report_write_now(d);
}

int daemon_main(const char *config_path)
{
	struct daemon d = { .config_path = config_path, .epfd = -1, .sigfd = -1, .tickfd = -1 };
	struct config_error err;
	int lock_fd = -1, r, ret = EXIT_ERROR;

	log_setup(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	r = config_load(config_path, &d.config, &err);
	if (r < 0) {
		log_config_error(&err);
		return EXIT_ERROR;
	}
	log_setup(d.config->log_format, d.config->log_level);
	r = take_lock(&lock_fd);
	if (r < 0) {
		log_error("agent_failed", LOG_STR("step", "lock"),
			  LOG_STR("error", r == -EADDRINUSE ? "another port53guard agent runs in this network namespace"
							    : strerror(-r)));
		config_free(d.config);
		return EXIT_ERROR;
	}
	d.start_mono_ms = d.now_ms = daemon_now_ms();
	d.start_wall = time(NULL);
	if (sd_watchdog_enabled(0, &d.watchdog_usec) <= 0)
		d.watchdog_usec = 0;
	log_info("agent_started", LOG_STR("version", PORT53GUARD_VERSION),
		 LOG_STR("mode", agent_mode_to_string(d.config->mode)), LOG_UINT("pid", getpid()),
		 LOG_UINT("config_files", d.config->n_files));
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
	if (d.epfd >= 0)
		close(d.epfd);
	if (d.sigfd >= 0)
		close(d.sigfd);
	if (d.tickfd >= 0)
		close(d.tickfd);
	close(lock_fd);
	config_free(d.config);
	return ret;
}
