/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scanmsg.h"

/* Every message of one encoded stream, kept for replay and mutation. */
struct stream {
	uint8_t msg[8][SCANMSG_MAX];
	size_t len[8];
	size_t n;
};

static int stream_send(const uint8_t *msg, size_t len, void *userdata)
{
	struct stream *st = userdata;

	if (st->n == 8)
		return -ENOBUFS;
	memcpy(st->msg[st->n], msg, len);
	st->len[st->n++] = len;
	return 0;
}

/* Two namespaces, two listeners given out of order, hostile strings. */
static void sample_set(struct listener_set *s, struct listener_netns *ns, struct listener *l)
{
	memset(ns, 0, 2 * sizeof(*ns));
	memset(l, 0, 2 * sizeof(*l));
	ns[0] = (struct listener_netns){ .inode = 4026531840u, .self = true, .n_listeners = 1 };
	ns[1] = (struct listener_netns){ .inode = 4026532999u, .name = "ctr\n1", .n_listeners = 1 };
	l[0] = (struct listener){ .netns = &ns[1], .proto = IPPROTO_UDP, .family = AF_INET6, .port = 53,
				  .inode = 77, .uid = 1000, .v6only = 0, .exposure = LISTENER_PUBLIC,
				  .has_cgroup_id = true, .cgroup_id = 1234, .unfiltered = true };
	l[0].owner = (struct procmap_owner){ .status = PROCMAP_FOUND, .pid = 4242, .comm = "dns\x1b[2Jmasq",
					     .exe = "/usr/sbin/dnsmasq", .unit = "dnsmasq.service",
					     .container = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
					     .container_name = "web" };
	l[1] = (struct listener){ .netns = &ns[0], .proto = IPPROTO_TCP, .family = AF_INET, .port = 53,
				  .addr = { 127, 0, 0, 53 }, .inode = 12, .ifindex = 1, .v6only = -1,
				  .exposure = LISTENER_LOCAL, .owner = { .status = PROCMAP_DENIED } };
	strcpy(l[1].ifname, "lo");
	strcpy(l[1].via, "lo");
	*s = (struct listener_set){ .items = l, .n = 2, .netns = ns, .n_netns = 2, .self_netns = ns[0].inode,
				    .namespaces_walked = true, .netns_denied = 3, .owners_denied = true };
}

/* Feeds the stream; returns the last result, the set in *ret when complete. */
static int replay(const struct stream *st, uint32_t seq, struct listener_set **ret)
{
	struct scanmsg_reader *r;
	int e = 0;

	assert_int_equal(scanmsg_reader_new(seq, &r), 0);
	for (size_t i = 0; i < st->n && e == 0; i++)
		e = scanmsg_reader_feed(r, st->msg[i], st->len[i]);
	if (e == 1)
		assert_int_equal(scanmsg_reader_take(r, ret), 0);
	scanmsg_reader_free(r);
	return e;
}

static void test_roundtrip(void **state)
{
	struct listener_netns ns[2];
	struct listener l[2];
	struct listener_set s, *got = NULL;
	static struct stream st;

	(void)state;
	sample_set(&s, ns, l);
	st.n = 0;
	assert_int_equal(scanmsg_send_set(&s, 9, stream_send, &st), 0);
	assert_int_equal(st.n, 5);      /* begin, 2 netns, 2 listeners */
	assert_int_equal(replay(&st, 9, &got), 1);
	assert_int_equal(got->n, 2);
	assert_int_equal(got->n_netns, 2);
	assert_true(got->namespaces_walked && got->owners_denied);
	assert_int_equal(got->netns_denied, 3);
	assert_string_equal(got->netns[1].name, "ctr\n1");
	assert_null(got->netns[0].name);
	/* Sorted again: the own namespace first. */
	assert_true(got->items[0].netns->self);
	assert_int_equal(got->items[0].proto, IPPROTO_TCP);
	assert_string_equal(got->items[0].ifname, "lo");
	assert_int_equal(got->items[0].owner.status, PROCMAP_DENIED);
	assert_null(got->items[0].owner.comm);
	assert_int_equal(got->items[1].owner.pid, 4242);
	assert_string_equal(got->items[1].owner.comm, "dns\x1b[2Jmasq");
	assert_string_equal(got->items[1].owner.container_name, "web");
	assert_true(got->items[1].unfiltered && got->items[1].has_cgroup_id);
	assert_int_equal(got->items[1].cgroup_id, 1234);
	assert_int_equal(got->items[1].v6only, 0);
	assert_ptr_equal(got->items[1].netns, &got->netns[1]);
	listener_set_free(got);
}

static void test_request(void **state)
{
	struct listeners_opts o = { .port = 53, .namespaces = true, .owners = false }, back;
	uint8_t buf[64];
	uint32_t seq;
	ssize_t n;

	(void)state;
	n = scanmsg_put_request(buf, sizeof(buf), 0x01020304, &o);
	assert_true(n > 0);
	assert_int_equal(scanmsg_get_request(buf, (size_t)n, &seq, &back), 0);
	assert_int_equal(seq, 0x01020304);
	assert_int_equal(back.port, 53);
	assert_true(back.namespaces && !back.owners);
	assert_int_equal(scanmsg_get_request(buf, (size_t)n - 1, &seq, &back), -EBADMSG);
	buf[2] = SCANMSG_VERSION + 1;
	assert_int_equal(scanmsg_get_request(buf, (size_t)n, &seq, &back), -EPROTONOSUPPORT);
	assert_int_equal(scanmsg_put_request(buf, 10, 1, &o), -EMSGSIZE);
}

/* One change to the encoded sample and what the reader must say. */
enum mutation { M_NONE, M_TRUNCATE, M_EXTEND, M_BYTE, M_DROP, M_DUP };

static void test_malformed(void **state)
{
	static const struct {
		const char *what;
		size_t msg;
		enum mutation m;
		size_t off;
		uint8_t value;
		int expect;
	} cases[] = {
		{ "intact", 0, M_NONE, 0, 0, 1 },
		{ "bad magic", 0, M_BYTE, 0, 'X', -EBADMSG },
		{ "other version", 2, M_BYTE, 2, 9, -EPROTONOSUPPORT },
		{ "unknown type", 1, M_BYTE, 3, 42, -EBADMSG },
		{ "begin truncated", 0, M_TRUNCATE, 0, 0, -EBADMSG },
		{ "listener with trailing byte", 3, M_EXTEND, 0, 0, -EBADMSG },
		{ "listener cut in a string", 4, M_TRUNCATE, 0, 0, -EBADMSG },
		{ "no namespaces", 0, M_BYTE, 11, 0, -EBADMSG },
		{ "netns index out of range", 3, M_BYTE, 11, 2, -EBADMSG },
		{ "protocol not udp or tcp", 3, M_BYTE, 12, 1, -EBADMSG },
		{ "family unknown", 3, M_BYTE, 13, 99, -EBADMSG },
		{ "listener before the namespaces", 1, M_DROP, 0, 0, -EBADMSG },
		{ "a second begin", 1, M_DUP, 0, 0, -EBADMSG },
		{ "a begin for another request skipped, its rest refused", 0, M_BYTE, 7, 8, -EBADMSG },
	};
	struct listener_netns ns[2];
	struct listener l[2];
	struct listener_set s, *got;
	static struct stream st;

	(void)state;
	sample_set(&s, ns, l);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t k = cases[i].msg;

		st.n = 0;
		assert_int_equal(scanmsg_send_set(&s, 9, stream_send, &st), 0);
		switch (cases[i].m) {
		case M_NONE:
			break;
		case M_TRUNCATE:
			st.len[k] -= 3;
			break;
		case M_EXTEND:
			st.msg[k][st.len[k]++] = 0;
			break;
		case M_BYTE:
			st.msg[k][cases[i].off] = cases[i].value;
			break;
		case M_DROP:
			memmove(&st.msg[k], &st.msg[k + 1], (st.n - k - 1) * sizeof(st.msg[0]));
			memmove(&st.len[k], &st.len[k + 1], (st.n - k - 1) * sizeof(st.len[0]));
			memmove(&st.msg[k], &st.msg[k + 1], (st.n - k - 2) * sizeof(st.msg[0]));
			memmove(&st.len[k], &st.len[k + 1], (st.n - k - 2) * sizeof(st.len[0]));
			st.n -= 2;
			break;
		case M_DUP:
			memcpy(st.msg[k], st.msg[0], st.len[0]);
			st.len[k] = st.len[0];
			break;
		}
		got = NULL;
		if (replay(&st, 9, &got) != cases[i].expect)
			fail_msg("%s: expected %d", cases[i].what, cases[i].expect);
		listener_set_free(got);
	}
}

static void test_errors(void **state)
{
	struct scanmsg_reader *r;
	uint8_t buf[64];
	ssize_t n;

	(void)state;
	/* The helper's error for this request, as a negative errno. */
	assert_int_equal(scanmsg_reader_new(5, &r), 0);
	n = scanmsg_put_error(buf, sizeof(buf), 5, -EPERM);
	assert_int_equal(scanmsg_reader_feed(r, buf, (size_t)n), -EPERM);
	assert_int_equal(scanmsg_reader_feed(r, buf, (size_t)n), -EINVAL);
	scanmsg_reader_free(r);
	/* An error for an earlier request is skipped; the notice is not. */
	assert_int_equal(scanmsg_reader_new(5, &r), 0);
	n = scanmsg_put_error(buf, sizeof(buf), 4, -EPERM);
	assert_int_equal(scanmsg_reader_feed(r, buf, (size_t)n), 0);
	n = scanmsg_put_error(buf, sizeof(buf), SCANMSG_SEQ_NOTICE, -ECHILD);
	assert_int_equal(scanmsg_reader_feed(r, buf, (size_t)n), -ECHILD);
	scanmsg_reader_free(r);
	/* Error codes out of errno's range are malformed. */
	assert_int_equal(scanmsg_reader_new(5, &r), 0);
	n = scanmsg_put_error(buf, sizeof(buf), 5, 0);
	assert_int_equal(scanmsg_reader_feed(r, buf, (size_t)n), -EBADMSG);
	scanmsg_reader_free(r);
}

/* Strings: cut to SCANMSG_STR_MAX when sent; a NUL inside is refused. */
static void test_strings(void **state)
{
	struct listener_netns ns[2];
	struct listener l[2];
	struct listener_set s, *got = NULL;
	static struct stream st;
	static char longexe[SCANMSG_STR_MAX + 100];
	uint8_t *p;

	(void)state;
	sample_set(&s, ns, l);
	memset(longexe, 'a', sizeof(longexe) - 1);
	l[0].owner.exe = longexe;
	st.n = 0;
	assert_int_equal(scanmsg_send_set(&s, 9, stream_send, &st), 0);
	assert_int_equal(replay(&st, 9, &got), 1);
	assert_int_equal(strlen(got->items[1].owner.exe), SCANMSG_STR_MAX);
	listener_set_free(got);
	/* The comm "dns\x1b[2Jmasq" with its escape byte turned into NUL. */
	p = memmem(st.msg[3], st.len[3], "dns\x1b", 4);
	if (!p)
		p = memmem(st.msg[4], st.len[4], "dns\x1b", 4);
	assert_non_null(p);
	p[3] = '\0';
	assert_int_equal(replay(&st, 9, &got), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
