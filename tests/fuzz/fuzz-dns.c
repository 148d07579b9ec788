/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the packet parser and the traffic accounting.
 *
 * The first input byte picks what the rest is: a packet of one of the link
 * types dns_parse_packet() knows, a bare DNS message (whole or partial), or
 * a name at an offset. Every parsed packet then goes through a traffic
 * accountant whose tables are tiny, so replacement, eviction and rotation
 * run all the time. The seeds (tests/fuzz/corpus/dns) are the packets of
 * the captures in tests/data, each behind the byte of its link type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "traffic.h"

static const int links[] = {
	DNS_LINK_EN10MB, DNS_LINK_LINUX_SLL, DNS_LINK_LINUX_SLL2, DNS_LINK_RAW, DNS_LINK_RAW_FILE,
	DNS_LINK_IPV4, DNS_LINK_IPV6, DNS_LINK_NULL, DNS_LINK_LOOP,
};
#define N_LINKS (sizeof(links) / sizeof(links[0]))
enum { MODE_MESSAGE = N_LINKS, MODE_PARTIAL, MODE_NAME, N_MODES };

static struct traffic *accountant(void)
{
	static struct traffic *t;
	struct traffic_options o;

	if (t)
		return t;
	traffic_options_init(&o);
	o.source_slots = 16;
	o.qname_slots = 16;
	o.pending_slots = 16;
	o.report_rows = 4;
	/* Four packets per second of packet time: above 2/s the top-K
	 * tables sample, so the weighted paths are fuzzed too. */
	o.sample_above = 2;
	if (traffic_new(&o, &t) < 0)
		abort();
	return t;
}

/* What a successful parse promises its callers. */
static void check_packet(struct dns_packet *p)
{
	if (p->qname.wire_len > DNS_NAME_WIRE_MAX)
		abort();
	if (p->has_question && strlen(dns_name_text(&p->qname)) != p->qname.text_len)
		abort();
	if (p->qname.text_len >= DNS_NAME_TEXT_MAX)
		abort();
	if (p->has_question && (p->qname.wire_len == 0 || p->qname.wire[p->qname.wire_len - 1] != 0))
		abort();
	if ((unsigned)p->rr_error >= _DNS_ERR_MAX)
		abort();
}

static void account(const struct dns_packet *p, enum dns_error e)
{
	static uint64_t n;
	struct traffic *t = accountant();
	struct timespec ts = { .tv_sec = (time_t)(n / 4), .tv_nsec = (long)(n % 4) * 250000000 };

	n++;
	if (e == DNS_OK)
		traffic_add(t, p, &ts, 0);
	else
		traffic_add_error(t, e);
	/* Rotate now and then so snapshots are built from every state. */
	if (n % 64 == 0)
		traffic_rotate(t, &ts);
}

static void fuzz_name(const uint8_t *data, size_t size, struct dns_packet *p)
{
	size_t off;
	enum dns_error e;

	if (size < 1)
		return;
	off = data[0];
	data++;
	size--;
	if (off > size)
		return;
	e = dns_parse_name(data, size, &off, &p->qname);
	if (e == DNS_OK && (off > size || strlen(dns_name_text(&p->qname)) != p->qname.text_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_packet p;     /* 1.5 KiB; static keeps the stack small */
	unsigned mode;
	enum dns_error e;

	if (size < 1)
		return 0;
	mode = data[0] % N_MODES;
	data++;
	size--;
	if (mode == MODE_NAME) {
		fuzz_name(data, size, &p);
		return 0;
	}
	if (mode == MODE_MESSAGE || mode == MODE_PARTIAL)
		e = dns_parse_message(data, size, mode == MODE_PARTIAL, &p);
	else
		e = dns_parse_packet(links[mode], data, size, &p);
	if ((unsigned)e >= _DNS_ERR_MAX)
		abort();
	if (e == DNS_OK)
		check_packet(&p);
	if (mode < N_LINKS)
		account(&p, e);
	return 0;
}
