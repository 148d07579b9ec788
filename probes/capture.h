/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Live capture of inbound DNS with libpcap, for an epoll loop.
 *
 * One pcap handle on "any" (link type DLT_LINUX_SLL2, so each packet names
 * its interface), or one per configured interface. The direction is part of
 * the kernel filter ("inbound and dst port 53", plus "outbound and src port
 * 53" when responses are wanted, each also through one IPv6 Hop-by-Hop,
 * Routing or Destination Options header), so the kernel drops everything
 * else before it is copied. TPACKET_V3 rings without immediate mode (immediate mode
 * falls back to V2) and a short block timeout, so a quiet trickle of queries
 * still reaches user space within CAPTURE_TIMEOUT_DEFAULT_MS.
 *
 * The library never logs: errors come back as a negative errno and one line
 * of text in the caller's buffer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CAPTURE_BUFFER_DEFAULT (4u << 20)
#define CAPTURE_TIMEOUT_DEFAULT_MS 50
#define CAPTURE_SNAPLEN_DEFAULT 65535
/* Enough for the libpcap message and the interface name. */
#define CAPTURE_ERRBUF_SIZE 512

struct capture_options {
	const char *const *interfaces;  /* none: "any" */
	size_t n_interfaces;
	uint64_t buffer_size;           /* ring bytes per handle; 0: CAPTURE_BUFFER_DEFAULT */
	unsigned timeout_ms;            /* block timeout; 0: CAPTURE_TIMEOUT_DEFAULT_MS */
	unsigned snaplen;               /* 0: CAPTURE_SNAPLEN_DEFAULT */
	bool responses;                 /* also capture outbound packets from port 53 */
	bool loopback;                  /* on "any", keep the loopback interface (tests) */
	/* With several interfaces: one that does not exist or is down is left
	 * out (capture_missing_*(), capture_retry()) instead of failing all. */
	bool partial;
};

struct capture_packet {
	int linktype;                   /* DLT_* of the handle, for dns_parse_packet() */
	struct timespec ts;
	const uint8_t *data;
	uint32_t caplen, len;
	const char *ifname;             /* the handle's interface ("any" or a name) */
	uint32_t ifindex;               /* a named interface's index; 0 on "any" (SLL2 names it) */
};

typedef void (*capture_handler_t)(const struct capture_packet *pkt, void *userdata);

struct capture;

/* Opens, activates and filters every handle. On failure returns a negative
 * errno (-EPERM without CAP_NET_RAW, -ENODEV for an unknown interface,
 * -ENETDOWN for one that is down, -EINVAL for a filter libpcap refuses,
 * -EIO otherwise) and writes one line to errbuf; nothing stays open. With
 * o->partial, -ENODEV and -ENETDOWN of a named interface are not failures:
 * that interface is listed as missing (all of them may be) and the rest
 * capture. */
int capture_open(const struct capture_options *o, struct capture **ret, char *errbuf, size_t errbuf_size);
void capture_free(struct capture *c);

/* The configured interfaces that are not captured, with the error of the
 * last attempt (one line). */
size_t capture_n_missing(const struct capture *c);
const char *capture_missing_ifname(const struct capture *c, size_t i);
const char *capture_missing_error(const struct capture *c, size_t i);

/* Tries every missing interface again. Handles opened now are appended
 * after the existing ones (their indexes do not move); returns how many, or
 * a negative errno (with errbuf) for an error other than a missing
 * interface, and then the names not tried stay missing. */
int capture_retry(struct capture *c, char *errbuf, size_t errbuf_size);

/* Closes handle i after a capture error (an interface deleted under it):
 * the handles after it move down by one, and with o->partial its name
 * becomes missing with error, to be retried. */
int capture_close_handle(struct capture *c, size_t i, const char *error);

/* Handles, each with a selectable fd for epoll (EPOLLIN). */
size_t capture_n_handles(const struct capture *c);
int capture_fd(const struct capture *c, size_t i);
const char *capture_ifname(const struct capture *c, size_t i);
int capture_linktype(const struct capture *c, size_t i);
/* The filter expression in use on handle i. */
const char *capture_filter(const struct capture *c, size_t i);
/* Whether the kernel runs handle i's filter (libpcap falls back to user
 * space, after the copy, when the kernel refuses a program). */
bool capture_filter_in_kernel(const struct capture *c, size_t i);

/* Hands every packet ready on handle i to handler and returns their number
 * (0 when nothing was ready); never blocks. At most max_blocks ring blocks
 * are read (0: no limit) so one busy handle cannot starve the loop. On a
 * capture error returns -EIO with the text in errbuf. */
int capture_dispatch(struct capture *c, size_t i, unsigned max_blocks, capture_handler_t handler,
		     void *userdata, char *errbuf, size_t errbuf_size);

/* Sums over all handles since capture_open(). pcap's 32-bit counters are
 * widened here, so they do not wrap. */
struct capture_stats {
	uint64_t received;      /* ps_recv: packets that passed the filter */
	uint64_t dropped;       /* ps_drop: lost because the ring was full */
	uint64_t ifdropped;     /* ps_ifdrop: dropped by the interface/driver */
};
int capture_stats(struct capture *c, struct capture_stats *ret);

/* The filter expression capture_open() compiles for these options on a
 * handle ("any" or not): exposed for tests and for the startup event. */
int capture_filter_expression(const struct capture_options *o, bool any, bool direction, char *buf,
			      size_t size);
