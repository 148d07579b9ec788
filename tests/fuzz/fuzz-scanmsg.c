/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scan helper's answers reach the agent, the agent's requests reach the
 * helper: each side decodes what the other sends as hostile bytes. The input
 * is a mode byte, then for mode 0 one request, else a stream of messages,
 * each a 16-bit big-endian length and that many bytes, fed to a reader for
 * request 1. A complete set must hold together (every listener's namespace
 * inside the set, strings bounded) and survive re-encoding unchanged in
 * size. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "violated: %s\n", what);
		abort();
	}
}

static void check_str(const char *s, size_t max)
{
	check(!s || strlen(s) <= max, "string bounded");
}

static void check_set(const struct listener_set *s)
{
	check(s->n <= SCANMSG_MAX_LISTENERS && s->n_netns <= SCANMSG_MAX_NETNS, "counts bounded");
	for (size_t i = 0; i < s->n_netns; i++)
		check_str(s->netns[i].name, 255);
	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->items[i];

		check(l->netns >= s->netns && l->netns < s->netns + s->n_netns, "netns inside the set");
		check(memchr(l->ifname, '\0', sizeof(l->ifname)) && memchr(l->via, '\0', sizeof(l->via)),
		      "fixed strings terminated");
		check_str(l->owner.comm, SCANMSG_STR_MAX);
		check_str(l->owner.exe, SCANMSG_STR_MAX);
		check_str(l->owner.container_name, PROCMAP_CONTAINER_NAME_MAX);
		check(i == 0 || listener_cmp(&s->items[i - 1], l) <= 0, "sorted");
	}
}

struct replay {
	struct scanmsg_reader *r;
	int last;
};

static int replay_send(const uint8_t *msg, size_t len, void *userdata)
{
	struct replay *x = userdata;

	check(len <= SCANMSG_MAX, "encoded message bounded");
	x->last = scanmsg_reader_feed(x->r, msg, len);
	return x->last < 0 ? x->last : 0;
}

static void roundtrip(const struct listener_set *s)
{
	struct replay x = { 0 };
	struct listener_set *again = NULL;

	if (scanmsg_reader_new(7, &x.r) < 0)
		return;
	if (scanmsg_send_set(s, 7, replay_send, &x) == 0) {
		check(x.last == 1, "a re-encoded set decodes whole");
		check(scanmsg_reader_take(x.r, &again) == 0, "take");
		check(again->n == s->n && again->n_netns == s->n_netns, "same counts");
		listener_set_free(again);
	} else {
		check(x.last == -ENOMEM, "re-encoding fails only for memory");
	}
	scanmsg_reader_free(x.r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scanmsg_reader *r;
	struct listener_set *s;
	struct listeners_opts o;
	uint32_t seq;
	size_t off = 1;
	int e = 0;

	if (size < 1)
		return 0;
	if (data[0] == 0) {
		e = scanmsg_get_request(data + 1, size - 1, &seq, &o);
		check(e == 0 || e == -EBADMSG || e == -EPROTONOSUPPORT, "request: known errors");
		return 0;
	}
	if (scanmsg_reader_new(1, &r) < 0)
		return 0;
	while (e == 0 && size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n > size - off)
			n = size - off;
		e = scanmsg_reader_feed(r, data + off, n);
		off += n;
	}
	if (e == 1) {
		check(scanmsg_reader_take(r, &s) == 0, "take after completion");
		check_set(s);
		roundtrip(s);
		listener_set_free(s);
	} else {
		check(e <= 0, "known returns");
		check(scanmsg_reader_take(r, &s) == -EINVAL, "nothing to take");
	}
	scanmsg_reader_free(r);
	return 0;
}
