/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scanhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netns.h"
#include "privs.h"
#include "scanmsg.h"

/* The helper's end of the socketpair, moved here in the helper. */
#define HELPER_FD 3
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 60000
/* A scan process that lived this long died of something new: start over. */
#define BACKOFF_RESET_MS 60000

struct scanhelper {
	pid_t pid;              /* the supervisor, 0 when gone */
	int fd;                 /* the agent's end, -1 when gone */
	uint32_t seq;           /* of the last request */
	uint8_t *buf;           /* SCANMSG_MAX bytes */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------ helper side --- */

/* Dies with its parent; false when the parent is already gone. */
static bool bind_to_parent(pid_t parent)
{
	return prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() == parent;
}

static int send_msg(const uint8_t *msg, size_t len, void *userdata)
{
	int fd = *(int *)userdata;

	while (send(fd, msg, len, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static void send_error(int fd, uint32_t seq, int error)
{
	uint8_t buf[32];
	ssize_t n = scanmsg_put_error(buf, sizeof(buf), seq, error);

	if (n > 0)
		(void)send_msg(buf, (size_t)n, &fd);
}

/* Ends the scan process; what it allocated goes first, so memory checkers
 * that follow the fork see nothing lost. */
static _Noreturn void scan_exit(uint8_t *req, int status)
{
	free(req);
	_exit(status);
}

/* The scan process: one request, one answer, until the agent goes away.
 * A namespace walk that could not go back home ends the process: the
 * supervisor starts a fresh one in the right namespace. */
static _Noreturn void scan_process(int fd, uint64_t home)
{
	uint8_t *req = malloc(SCANMSG_MAX);
	struct listeners_opts o;
	struct listener_set *s;
	uint64_t now_ns;
	uint32_t seq;
	ssize_t n;
	int r;

	if (!req)
		_exit(EXIT_FAILURE);
	for (;;) {
		n = recv(fd, req, SCANMSG_MAX, MSG_TRUNC);
		if (n == 0)
			scan_exit(req, EXIT_SUCCESS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			scan_exit(req, EXIT_FAILURE);
		}
		r = n > SCANMSG_MAX ? -EMSGSIZE : scanmsg_get_request(req, (size_t)n, &seq, &o);
		if (r < 0) {
			/* No sequence number to answer to: a notice. */
			send_error(fd, SCANMSG_SEQ_NOTICE, r);
			continue;
		}
		r = listeners_scan(&o, &s);
		if (r >= 0) {
			r = scanmsg_send_set(s, seq, send_msg, &fd);
			listener_set_free(s);
			if (r < 0 && r != -E2BIG && r != -ENOMEM)
				scan_exit(req, EXIT_FAILURE);
		}
		if (r < 0)
			send_error(fd, seq, r);
		if (r == -ENOTRECOVERABLE || netns_self_inode(&now_ns) < 0 || now_ns != home)
			scan_exit(req, EXIT_FAILURE);
	}
}

static pid_t fork_scan_process(int fd, uint64_t home)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	if (!bind_to_parent(parent))
		_exit(EXIT_FAILURE);
	(void)prctl(PR_SET_NAME, "port53guard-scn");
	scan_process(fd, home);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The supervisor: keeps one scan process alive, with back-off. */
static _Noreturn void supervise(int fd)
{
	unsigned backoff = 0;
	uint64_t home, started;
	pid_t pid;
	int status = 0;

	if (netns_self_inode(&home) < 0)
		_exit(EXIT_FAILURE);
	for (;;) {
		started = mono_ms();
		pid = fork_scan_process(fd, home);
		if (pid > 0)
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
		/* Whatever the agent waits for will not come. */
		send_error(fd, SCANMSG_SEQ_NOTICE, -ECHILD);
		if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS)
			_exit(EXIT_SUCCESS);        /* the agent closed its end */
		if (mono_ms() - started >= BACKOFF_RESET_MS)
			backoff = 0;
		backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : BACKOFF_FIRST_MS;
		sleep_ms(backoff);
	}
}

/* Nothing of the agent's but the socket and stdio (where a sanitizer
 * reports) stays open in the helper. */
static void close_other_fds(void)
{
	if (close_range(HELPER_FD + 1, ~0U, 0) == 0)
		return;
	for (int fd = HELPER_FD + 1; fd < 65536; fd++)
		(void)close(fd);
}

static _Noreturn void helper_main(int fd, pid_t agent)
{
	sigset_t none;

	if (!bind_to_parent(agent))
		_exit(EXIT_FAILURE);
	(void)prctl(PR_SET_NAME, "port53guard-hlp");
	/* The agent blocks the signals it reads from a signalfd. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (fd != HELPER_FD) {
		if (dup2(fd, HELPER_FD) < 0)
			_exit(EXIT_FAILURE);
		(void)close(fd);
	}
	close_other_fds();
	/* Failing to drop leaves it with the agent's starting set: scans still
	 * work, and the agent's own drop does not depend on this. */
	(void)privs_limit_helper();
	supervise(HELPER_FD);
}

/* ------------------------------------------------------- agent side --- */

int scanhelper_start(struct scanhelper **ret)
{
	struct scanhelper *h;
	pid_t agent = getpid();
	int sv[2], r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->buf = malloc(SCANMSG_MAX);
	if (!h->buf || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = h->buf ? -errno : -ENOMEM;
		free(h->buf);
		free(h);
		return r;
	}
	h->pid = fork();
	if (h->pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		free(h->buf);
		free(h);
		return r;
	}
	if (h->pid == 0) {
		/* The agent's side of things is not the helper's to keep. */
		close(sv[0]);
		free(h->buf);
		free(h);
		helper_main(sv[1], agent);
	}
	close(sv[1]);
	h->fd = sv[0];
	*ret = h;
	return 0;
}

pid_t scanhelper_pid(const struct scanhelper *h)
{
	return h ? h->pid : 0;
}

/* The supervisor is gone: nothing can start another with its privileges. */
static void helper_gone(struct scanhelper *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		(void)kill(h->pid, SIGKILL);
		(void)waitpid(h->pid, NULL, 0);
	}
	h->pid = 0;
	log_error("listener_scan_failed", LOG_STR("error", "the scan helper exited"),
		  LOG_STR("effect", "listeners are not scanned until the agent restarts; enforcement goes on"));
}

/* Reads what arrived since the last scan: notices of deaths (logged) and the
 * rest of answers given up on (skipped: a reader for the next request, not
 * sent yet, takes nothing else). */
static void drain(struct scanhelper *h)
{
	struct scanmsg_reader *r;
	ssize_t n;

	while (h->fd >= 0) {
		n = recv(h->fd, h->buf, SCANMSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNRESET)
			break;
		if (n <= 0) {
			helper_gone(h);
			break;
		}
		if (n > SCANMSG_MAX || scanmsg_reader_new(h->seq + 1, &r) < 0)
			continue;
		if (scanmsg_reader_feed(r, h->buf, (size_t)n) == -ECHILD)
			log_warning("listener_scan_failed", LOG_STR("error", "the scan process died"),
				    LOG_STR("effect", "restarted with back-off; enforcement goes on"));
		scanmsg_reader_free(r);
	}
}

static int send_request(struct scanhelper *h, const struct listeners_opts *o)
{
	uint8_t req[32];
	ssize_t n;

	if (++h->seq == SCANMSG_SEQ_NOTICE)
		h->seq++;
	n = scanmsg_put_request(req, sizeof(req), h->seq, o);
	if (n < 0)
		return (int)n;
	while (send(h->fd, req, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET) {
			helper_gone(h);
			return -ENOTCONN;
		}
		return -errno;
	}
	return 0;
}

/* Feeds answers to r until it is complete, fails or the time is up. */
static int receive(struct scanhelper *h, struct scanmsg_reader *r, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	ssize_t n;
	int e;

	for (;;) {
		now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		e = poll(&p, 1, (int)(deadline - now));
		if (e < 0 && errno != EINTR)
			return -errno;
		if (e <= 0)
			continue;
		n = recv(h->fd, h->buf, SCANMSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno != ECONNRESET) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n <= 0) {
			helper_gone(h);
			return -ENOTCONN;
		}
		if (n > SCANMSG_MAX)
			return -EMSGSIZE;
		e = scanmsg_reader_feed(r, h->buf, (size_t)n);
		if (e != 0)
			return e;
	}
}

int scanhelper_scan(struct scanhelper *h, const struct listeners_opts *o, int timeout_ms,
		    struct listener_set **ret)
{
	struct scanmsg_reader *r;
	int e;

	if (!h || h->fd < 0)
		return -ENOTCONN;
	drain(h);
	if (h->fd < 0)
		return -ENOTCONN;
	e = send_request(h, o);
	if (e < 0)
		return e;
	e = scanmsg_reader_new(h->seq, &r);
	if (e < 0)
		return e;
	e = receive(h, r, timeout_ms);
	if (e == 1)
		e = scanmsg_reader_take(r, ret);
	scanmsg_reader_free(r);
	return e;
}

const char *scanhelper_strerror(int error)
{
	switch (error) {
	case -ECHILD:
		return "the scan process died during the scan";
	case -ETIMEDOUT:
		return "the scan helper did not answer in time";
	case -ENOTCONN:
		return "the scan helper is gone";
	case -EBADMSG:
	case -EPROTONOSUPPORT:
	case -EMSGSIZE:
		return "the scan helper's answer is malformed";
	default:
		return strerror(-error);
	}
}

/* Closing the socket ends both helper processes (the scan process reads the
 * end, and the supervisor follows it), so they exit and memory checkers get
 * their say; a helper that does not go within STOP_GRACE_MS is killed. */
#define STOP_GRACE_MS 3000

void scanhelper_stop(struct scanhelper *h)
{
	uint64_t deadline = mono_ms() + STOP_GRACE_MS;
	pid_t r = 0;

	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	while (h->pid > 0 && mono_ms() < deadline) {
		r = waitpid(h->pid, NULL, WNOHANG);
		if (r != 0 && !(r < 0 && errno == EINTR))
			break;
		sleep_ms(20);
	}
	if (h->pid > 0 && r == 0) {
		(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(h->buf);
	free(h);
}
