/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Load for the scan benchmark: NPROCS processes each holding PER sockets
 * that a port-53 scan must not pay for: half unconnected UDP, half
 * listening TCP (the very states the scan dumps), all on ephemeral ports of
 * 127.0.0.1. Prints "ready" once every child has its sockets, then waits
 * for SIGTERM or SIGINT; the children die with it (PR_SET_PDEATHSIG).
 *
 * Usage: socket-load NPROCS PER
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_one(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (type == SOCK_STREAM && listen(fd, 1) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void child(int ready, pid_t parent, int per)
{
	char c = 'y';

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	for (int i = 0; i < per; i++)
		if (open_one(i % 2 ? SOCK_STREAM : SOCK_DGRAM) < 0) {
			fprintf(stderr, "socket-load: socket %d: %s\n", i, strerror(errno));
			c = 'n';
			break;
		}
	if (write(ready, &c, 1) != 1)
		_exit(1);
	close(ready);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int nprocs, per, fds[2], sig;
	pid_t parent = getpid(), *pids;
	sigset_t set;
	char c;

	if (argc != 3 || (nprocs = atoi(argv[1])) <= 0 || (per = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: socket-load NPROCS PER\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pids = calloc((size_t)nprocs, sizeof(*pids));
	if (!pids || pipe(fds) < 0)
		return 1;
	for (int i = 0; i < nprocs; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return 1;
		if (pids[i] == 0) {
			close(fds[0]);
			child(fds[1], parent, per);
		}
	}
	close(fds[1]);
	for (int i = 0; i < nprocs; i++)
		if (read(fds[0], &c, 1) != 1 || c != 'y')
			return 1;
	printf("ready: %d processes, %d sockets\n", nprocs, nprocs * per);
	fflush(stdout);
	sigwait(&set, &sig);
	for (int i = 0; i < nprocs; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < nprocs; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return 0;
}
