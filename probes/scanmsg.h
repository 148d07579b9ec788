/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "listeners.h"

/*
 * The messages between the agent and its scan helper (one per SOCK_SEQPACKET
 * datagram, so the kernel keeps their boundaries). Pure: bytes in, values
 * out, no I/O.
 *
 * Every message starts with an 8-byte header: 'P' '5' (magic), the version,
 * the type, and a 32-bit sequence number (big endian) tying answers to their
 * request. The agent sends REQUEST; the helper answers with ERROR, or with
 * BEGIN, then one NETNS per namespace, then one LISTENER per listener. One
 * record per message keeps every message far below SCANMSG_MAX whatever the
 * number of listeners, so no socket buffer ever has to grow.
 *
 * Both sides distrust the other: the agent parses hostile packets, and the
 * helper reports strings that other processes chose (command names, paths).
 * Every field is length- and range-checked; counts are bounded.
 */

#define SCANMSG_VERSION 1
#define SCANMSG_HEADER_SIZE 8
/* The largest message either side sends or accepts. */
#define SCANMSG_MAX 32768
/* Strings longer than this are cut when encoding and refused when decoding. */
#define SCANMSG_STR_MAX 4095
#define SCANMSG_MAX_NETNS 16384
#define SCANMSG_MAX_LISTENERS 16384
/* An ERROR with this sequence number is news, not an answer: the helper's
 * scan process died, and whatever request was pending will not be answered. */
#define SCANMSG_SEQ_NOTICE 0

enum scanmsg_type {
	SCANMSG_REQUEST = 1,
	SCANMSG_ERROR,
	SCANMSG_BEGIN,
	SCANMSG_NETNS,
	SCANMSG_LISTENER,
};

/* Each returns the message length, or -EMSGSIZE when size is too small. */
ssize_t scanmsg_put_request(uint8_t *buf, size_t size, uint32_t seq, const struct listeners_opts *o);
ssize_t scanmsg_put_error(uint8_t *buf, size_t size, uint32_t seq, int error);

/* A REQUEST: -EBADMSG when malformed, -EPROTONOSUPPORT for another version. */
int scanmsg_get_request(const uint8_t *buf, size_t len, uint32_t *ret_seq, struct listeners_opts *ret);

typedef int (*scanmsg_send_fn)(const uint8_t *msg, size_t len, void *userdata);

/* Encodes s as BEGIN, NETNS..., LISTENER... and hands each message to send;
 * stops at the first negative return of send and returns it. */
int scanmsg_send_set(const struct listener_set *s, uint32_t seq, scanmsg_send_fn send, void *userdata);

/*
 * Rebuilds a listener set from the helper's messages for request seq. Feed
 * each message as it arrives: scanmsg_reader_feed() returns 0 while more is
 * needed, 1 when the set is complete (take it), or a negative errno: the
 * helper's own error (ERROR), -ECHILD when the helper announced that its scan
 * process died, -EBADMSG for anything malformed or out of order,
 * -EPROTONOSUPPORT for another version. Answers to other (earlier) requests
 * are skipped. After an error or completion, feeding again returns -EINVAL.
 */
struct scanmsg_reader;

int scanmsg_reader_new(uint32_t seq, struct scanmsg_reader **ret);
int scanmsg_reader_feed(struct scanmsg_reader *r, const uint8_t *buf, size_t len);
/* The complete set, sorted by listener_cmp(); the reader gives it up. */
int scanmsg_reader_take(struct scanmsg_reader *r, struct listener_set **ret);
void scanmsg_reader_free(struct scanmsg_reader *r);
