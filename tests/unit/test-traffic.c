/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "traffic.h"

/* Messages are made as the parser would leave them. */
struct msg {
	const char *src, *dst;
	uint16_t sport, dport;
	uint16_t id;
	bool qr, ra;
	uint8_t rcode;
	const char *qname;      /* dotted, no escapes; NULL: no question */
	uint16_t qtype;
	uint8_t proto;
	int32_t ifindex;        /* 0: unknown */
	uint32_t ip_id;
};

static void set_addr(struct dns_packet *p, const char *text, uint8_t *out)
{
	memset(out, 0, 16);
	if (strchr(text, ':')) {
		assert_int_equal(inet_pton(AF_INET6, text, out), 1);
		p->family = AF_INET6;
	} else {
		assert_int_equal(inet_pton(AF_INET, text, out), 1);
		p->family = AF_INET;
	}
}

static void set_qname(struct dns_packet *p, const char *dotted)
{
	size_t w = 0;

	for (const char *s = dotted; *s;) {
		size_t n = strcspn(s, ".");

		p->qname.wire[w++] = (uint8_t)n;
		memcpy(p->qname.wire + w, s, n);
		w += n;
		s += n + (s[n] == '.');
	}
	p->qname.wire[w++] = 0;
	p->qname.wire_len = (uint16_t)w;
	p->qname.text_len = (uint16_t)dns_name_to_text(p->qname.wire, w, p->qname.text);
}

static void make(const struct msg *m, struct dns_packet *p)
{
	memset(p, 0, sizeof(*p));
	set_addr(p, m->src, p->src);
	set_addr(p, m->dst, p->dst);
	p->sport = m->sport ? m->sport : (m->qr ? 53 : 40000);
	p->dport = m->dport ? m->dport : (m->qr ? 40000 : 53);
	p->proto = m->proto ? m->proto : IPPROTO_UDP;
	p->hdr.id = m->id;
	p->hdr.qr = m->qr;
	p->hdr.ra = m->ra;
	p->hdr.rcode = m->rcode;
	p->hdr.flags = (uint16_t)((m->qr ? 0x8000u : 0) | (m->ra ? 0x80u : 0) | m->rcode);
	p->ifindex = m->ifindex;
	p->ip_id = m->ip_id;
	p->ip_len = 60;
	p->has_question = m->qname != NULL;
	p->qtype = m->qtype ? m->qtype : 1;
	p->qclass = 1;
	if (m->qname)
		set_qname(p, m->qname);
}

static unsigned add_flags(struct traffic *t, const struct msg *m, long ms, unsigned flags)
{
	struct dns_packet p;
	struct timespec ts = { .tv_sec = 1000 + ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	make(m, &p);
	return traffic_add(t, &p, &ts, flags);
}

static unsigned add(struct traffic *t, const struct msg *m, long ms)
{
	return add_flags(t, m, ms, 0);
}

static const struct traffic_snapshot *rotate(struct traffic *t, long ms)
{
	struct timespec ts = { .tv_sec = 1000 + ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	return traffic_rotate(t, &ts);
}

static void idle(struct traffic *t, long ms)
{
	struct timespec ts = { .tv_sec = 1000 + ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	traffic_idle(t, &ts);
}

static struct traffic *new_traffic(const struct traffic_options *o)
{
	struct traffic_options d;
	struct traffic *t = NULL;

	if (!o) {
		traffic_options_init(&d);
		o = &d;
	}
	assert_int_equal(traffic_new(o, &t), 0);
	assert_non_null(t);
	return t;
}

/* ---- options and memory ------------------------------------------------ */

static void test_options(void **state)
{
	struct traffic_options o;
	struct traffic *t = (struct traffic *)0x1;

	(void)state;
	traffic_options_init(&o);
	o.source_slots = 0;
	assert_int_equal(traffic_new(&o, &t), -EINVAL);
	traffic_options_init(&o);
	o.report_rows = TRAFFIC_ROWS_MAX + 1;
	assert_int_equal(traffic_new(&o, &t), -EINVAL);
	traffic_options_init(&o);
	o.prefix4 = 33;
	assert_int_equal(traffic_new(&o, &t), -EINVAL);
	traffic_options_init(&o);
	o.qname_slots = 1u << 20;               /* ~300 MiB of names */
	assert_int_equal(traffic_new(&o, &t), -E2BIG);
	assert_ptr_equal(t, (struct traffic *)0x1);     /* untouched on failure */
}

static void test_memory_cap(void **state)
{
	struct traffic *t = new_traffic(NULL);

	(void)state;
	assert_true(traffic_memory(t) <= TRAFFIC_MEMORY_MAX);
	/* Room for a sensible amount: more than 3 MiB is in the tables. */
	assert_true(traffic_memory(t) > (3u << 20));
	traffic_free(t);
	traffic_free(NULL);
}

/* ---- counting ------------------------------------------------------------ */

static void test_sources_and_names(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;

	(void)state;
	for (int i = 0; i < 5; i++)
		add(t, &(struct msg){ .src = "192.0.2.7", .dst = "198.51.100.1", .qname = "Host.Test.P53", .qtype = 28 }, i);
	for (int i = 0; i < 3; i++)
		add(t, &(struct msg){ .src = "192.0.2.9", .dst = "198.51.100.1", .qname = "host.test.p53",
				       .proto = IPPROTO_TCP }, 10 + i);
	add(t, &(struct msg){ .src = "2001:db8:0:12::1", .dst = "2001:db8::53", .qname = "other.p53", .qtype = 16 }, 20);
	add(t, &(struct msg){ .src = "2001:db8:0:34::2", .dst = "2001:db8::53", .qname = NULL }, 21);
	s = rotate(t, 100);
	assert_int_equal(s->c.queries, 10);
	assert_int_equal(s->c.queries_tcp, 3);
	assert_int_equal(s->n_sources, 4);
	assert_int_equal(s->sources_distinct, 4);
	assert_int_equal(s->sources_suppressed, 0);
	assert_int_equal(s->sources_queries_suppressed, 0);
	assert_string_equal(s->sources[0].addr_text, "192.0.2.7");
	assert_int_equal(s->sources[0].queries, 5);
	assert_int_equal(s->sources[0].overcount, 0);
	assert_int_equal(s->sources[0].qtype, 28);
	assert_string_equal(s->sources[0].qname, "Host.Test.P53");
	assert_string_equal(s->sources[1].addr_text, "192.0.2.9");
	assert_int_equal(s->sources[1].tcp, 3);
	/* /24 and /56: the two IPv4 hosts share a network, the IPv6 ones too. */
	assert_int_equal(s->n_networks, 2);
	assert_string_equal(s->networks[0].addr_text, "192.0.2.0/24");
	assert_int_equal(s->networks[0].queries, 8);
	assert_string_equal(s->networks[1].addr_text, "2001:db8::/56");
	assert_int_equal(s->networks[1].queries, 2);
	/* Names fold ASCII case; the message without a question has none. */
	assert_int_equal(s->n_qnames, 2);
	assert_string_equal(s->qnames[0].qname, "host.test.p53");
	assert_int_equal(s->qnames[0].queries, 8);
	assert_int_equal(s->qnames_distinct, 2);
	assert_int_equal(s->n_qtypes, 3);
	assert_int_equal(s->qtypes[0].qtype, 28);
	assert_int_equal(s->qtypes[0].queries, 5);
	assert_int_equal(s->qtypes[1].qtype, 1);
	assert_int_equal(s->qtypes[1].queries, 3);
	traffic_free(t);
}

static void test_rows_limit(void **state)
{
	struct traffic_options o;
	struct traffic *t;
	const struct traffic_snapshot *s;
	char src[32];

	(void)state;
	traffic_options_init(&o);
	o.report_rows = 3;
	t = new_traffic(&o);
	for (int i = 0; i < 20; i++) {
		snprintf(src, sizeof(src), "10.%d.0.1", i);
		for (int k = 0; k <= i; k++)
			add(t, &(struct msg){ .src = src, .dst = "10.0.0.53", .qname = "a", .qtype = (uint16_t)(100 + i) }, k);
	}
	s = rotate(t, 1000);
	assert_int_equal(s->n_sources, 3);
	assert_string_equal(s->sources[0].addr_text, "10.19.0.1");
	assert_int_equal(s->sources[0].queries, 20);
	assert_int_equal(s->sources[2].queries, 18);
	assert_int_equal(s->sources_distinct, 20);
	assert_int_equal(s->sources_suppressed, 17);
	assert_int_equal(s->sources_queries_suppressed, 210 - 57);
	assert_int_equal(s->n_qtypes, 3);
	assert_int_equal(s->qtypes[0].qtype, 119);
	assert_int_equal(s->qtypes[2].qtype, 117);
	assert_int_equal(s->qtypes_suppressed, 17);
	traffic_free(t);
}

/* A flood from 200,000 addresses plus one heavy querier: the report stays
 * a few rows, the heavy one is on top with an honest error bound, the
 * distinct estimate is close, and memory did not move. */
static void test_flood(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	size_t mem = traffic_memory(t);
	char src[32];
	uint64_t est;

	(void)state;
	for (unsigned i = 0; i < 200000; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.%u", i >> 16, (i >> 8) & 0xff, i & 0xff);
		add(t, &(struct msg){ .src = src, .dst = "10.0.0.53", .id = (uint16_t)i, .qname = "flood.example" }, i / 1000);
		if (i % 40 == 0)
			add(t, &(struct msg){ .src = "203.0.113.5", .dst = "10.0.0.53", .id = (uint16_t)i, .qname = "x" }, i / 1000);
	}
	s = rotate(t, 300000);
	assert_int_equal(s->c.queries, 205000);
	assert_int_equal(s->n_sources, 10);
	assert_string_equal(s->sources[0].addr_text, "203.0.113.5");
	assert_true(s->sources[0].queries >= 5000);
	assert_true(s->sources[0].queries - s->sources[0].overcount <= 5000);
	est = s->sources_distinct;
	assert_true(est > 190000 && est < 210000);     /* 3 sigma of HyperLogLog */
	assert_int_equal(s->sources_suppressed, est - 10);
	/* 782 /24 networks of the flood and the heavy one's: an estimate now,
	 * since the source table overflowed. The heavy one's network leads. */
	assert_true(s->networks_distinct > 760 && s->networks_distinct < 806);
	assert_string_equal(s->networks[0].addr_text, "203.0.113.0/24");
	assert_int_equal(s->networks[0].queries, s->sources[0].queries);
	/* Every query was tracked for an answer: the table overflowed. */
	assert_int_equal(s->c.unanswered + s->pending, 205000);
	assert_true(s->c.evicted > 0);
	assert_int_equal(traffic_memory(t), mem);
	traffic_free(t);
}

/* ---- sampling above a rate --------------------------------------------- */

/* 100,000 queries in one second against a threshold of 1000/s: after the
 * first window (exact), 1 in 128 enters the top-K tables with weight 128.
 * Totals, query types and answered stay exact; the heavy sources' rows
 * stay within the documented bound; the rate is reported and noted once. */
static void test_sampling(void **state)
{
	struct traffic_options o;
	struct traffic *t;
	const struct traffic_snapshot *s;
	unsigned notes = 0, noted = 0, answered = 0;
	char src[32];

	(void)state;
	traffic_options_init(&o);
	o.sample_above = 1000;
	/* A fixed key: the draw, and so this test, is deterministic. */
	o.key = (struct siphash_key){ .k0 = 0x0706050403020100ULL, .k1 = 0x0f0e0d0c0b0a0908ULL };
	t = new_traffic(&o);
	assert_int_equal(traffic_sample_rate(t), 1);
	for (unsigned i = 0; i < 100000; i++) {
		long ms = i / 100;
		unsigned k = i % 10;

		if (k < 6) {            /* 60,000 from A, type A */
			notes = add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.53", .id = (uint16_t)i,
						      .qname = "a.example", .qtype = 1 }, ms);
		} else if (k < 9) {     /* 30,000 from B, type AAAA, each answered at once */
			notes = add(t, &(struct msg){ .src = "198.51.100.2", .dst = "203.0.113.53", .id = (uint16_t)i,
						      .qname = "b.example", .qtype = 28 }, ms);
			assert_int_equal(add(t, &(struct msg){ .src = "203.0.113.53", .dst = "198.51.100.2",
							       .id = (uint16_t)i, .qr = true, .qname = "b.example",
							       .qtype = 28 }, ms), 0);
			answered++;
		} else {                /* 10,000 from distinct sources, type MX */
			snprintf(src, sizeof(src), "2001:db8::%x:%x", i >> 16, i & 0xffff);
			notes = add(t, &(struct msg){ .src = src, .dst = "2001:db8::53", .id = (uint16_t)i,
						      .qname = "c.example", .qtype = 15 }, ms);
		}
		noted += (notes & TRAFFIC_NOTE_SAMPLING) != 0;
	}
	assert_int_equal(noted, 1);
	assert_int_equal(traffic_sample_rate(t), 128);
	s = rotate(t, 1000);
	/* Exact whatever the sampling. */
	assert_int_equal(s->c.queries, 100000);
	assert_int_equal(s->c.responses, answered);
	assert_int_equal(s->c.answered, answered);
	assert_int_equal(s->n_qtypes, 3);
	assert_int_equal(s->qtypes[0].qtype, 1);
	assert_int_equal(s->qtypes[0].queries, 60000);
	assert_int_equal(s->qtypes[1].queries, 30000);
	assert_int_equal(s->qtypes[2].queries, 10000);
	/* The first window (10,000 queries) was exact, about 127 in 128 of
	 * the rest stayed out of the tables. */
	assert_int_equal(s->sample_rate, 128);
	assert_true(s->c.sampled_out > 88000 && s->c.sampled_out < 90000);
	/* Rows: [queries - overcount - 3 sqrt(N queries), queries + 3 sqrt(N queries)]. */
	assert_string_equal(s->sources[0].addr_text, "198.51.100.1");
	assert_true(s->sources[0].queries > 60000 - 3 * 2772 && s->sources[0].queries < 60000 + 3 * 2772);
	assert_string_equal(s->sources[1].addr_text, "198.51.100.2");
	assert_true(s->sources[1].queries > 30000 - 3 * 1960 && s->sources[1].queries < 30000 + 3 * 1960);
	/* answered is scaled like queries: B's every query was answered. */
	assert_true(s->sources[1].answered > 30000 - 3 * 1960 && s->sources[1].answered < 30000 + 3 * 1960);
	assert_string_equal(s->qnames[0].qname, "a.example");
	assert_true(s->qnames[0].queries > 60000 - 3 * 2772 && s->qnames[0].queries < 60000 + 3 * 2772);
	/* Rows are weighted sums: multiples of 128 past the exact window. */
	assert_int_equal((s->sources[0].queries - 6000) % 128, 0);

	/* A quiet interval. Its first query closes the flood's last window,
	 * whose average rate over the gap (about 9,000/s) is still above the
	 * threshold: that one query may be sampled. The next window's rate
	 * (one query per 200 ms) ends sampling. */
	noted = 0;
	for (unsigned i = 0; i < 20; i++) {
		notes = add(t, &(struct msg){ .src = "198.51.100.3", .dst = "203.0.113.53", .id = (uint16_t)i,
					      .qname = "q.example" }, 2000 + 200 * i);
		noted += (notes & TRAFFIC_NOTE_SAMPLING) != 0;
		if (i > 0)
			assert_int_equal(traffic_sample_rate(t), 1);
	}
	assert_true(noted <= 1);
	s = rotate(t, 7000);
	assert_int_equal(s->c.queries, 20);
	assert_true(s->c.sampled_out <= 1);
	assert_true(s->sample_rate <= 16);
	assert_true(s->sources[0].queries >= 19 && s->sources[0].queries <= 19 + 16);
	/* And the next interval is exact from its start. */
	for (unsigned i = 0; i < 20; i++)
		add(t, &(struct msg){ .src = "198.51.100.3", .dst = "203.0.113.53", .id = (uint16_t)i,
				      .qname = "q.example" }, 8000 + 200 * i);
	s = rotate(t, 14000);
	assert_int_equal(s->c.sampled_out, 0);
	assert_int_equal(s->sample_rate, 1);
	assert_int_equal(s->sources[0].queries, 20);
	assert_int_equal(s->sources[0].overcount, 0);
	traffic_free(t);
}

/* sample_above 0 (traffic_options_init()'s default) never samples. */
static void test_sampling_off(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;

	(void)state;
	for (unsigned i = 0; i < 50000; i++)
		add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.53", .id = (uint16_t)i,
				      .qname = "a.example" }, i / 100);
	assert_int_equal(traffic_sample_rate(t), 1);
	s = rotate(t, 1000);
	assert_int_equal(s->sample_rate, 1);
	assert_int_equal(s->c.sampled_out, 0);
	assert_int_equal(s->sources[0].queries, 50000);
	assert_int_equal(s->sources[0].overcount, 0);
	traffic_free(t);
}

/* A reload that turns sampling off stops it at once; one that lowers the
 * threshold starts it. */
static void test_sampling_reload(void **state)
{
	struct traffic_options o;
	struct traffic *t;
	const struct traffic_snapshot *s;
	uint64_t out;

	(void)state;
	traffic_options_init(&o);
	o.sample_above = 1000;
	t = new_traffic(&o);
	for (unsigned i = 0; i < 20000; i++)    /* 100,000 queries/s */
		add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.53", .id = (uint16_t)i,
				      .qname = "a.example" }, i / 100);
	assert_true(traffic_sample_rate(t) > 1);
	s = rotate(t, 200);
	out = s->c.sampled_out;
	assert_true(out > 0);
	traffic_set_sample_above(t, 0);
	assert_int_equal(traffic_sample_rate(t), 1);
	for (unsigned i = 0; i < 20000; i++)
		add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.53", .id = (uint16_t)i,
				      .qname = "a.example" }, 300 + i / 100);
	s = rotate(t, 600);
	assert_int_equal(s->c.sampled_out, 0);
	assert_int_equal(s->sources[0].queries, 20000);
	assert_int_equal(s->sources[0].overcount, 0);
	traffic_set_sample_above(t, 1000);
	for (unsigned i = 0; i < 20000; i++)
		add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.53", .id = (uint16_t)i,
				      .qname = "a.example" }, 700 + i / 100);
	assert_true(traffic_sample_rate(t) > 1);
	/* The flood stops (last query at 899 ms): one window later sampling
	 * still holds, two windows after the last measured one it ends. */
	idle(t, 950);
	assert_true(traffic_sample_rate(t) > 1);
	idle(t, 1200);
	assert_int_equal(traffic_sample_rate(t), 1);
	traffic_free(t);
}

/* ---- answers ----------------------------------------------------------- */

static void test_answers(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	const struct msg q1 = { .src = "192.0.2.1", .dst = "192.0.2.53", .id = 1, .qname = "a" };
	const struct msg r1 = { .src = "192.0.2.53", .dst = "192.0.2.1", .id = 1, .qr = true, .qname = "a" };
	const struct msg q2 = { .src = "192.0.2.1", .dst = "192.0.2.53", .id = 2, .qname = "b" };
	const struct msg r2 = { .src = "192.0.2.53", .dst = "192.0.2.1", .id = 2, .qr = true, .qname = "b" };
	const struct msg q3 = { .src = "192.0.2.1", .dst = "192.0.2.53", .id = 3, .qname = "c" };
	const struct msg r_other = { .src = "192.0.2.53", .dst = "192.0.2.1", .id = 9, .qr = true, .qname = "a" };
	const struct msg r_port = { .src = "192.0.2.53", .dst = "192.0.2.1", .dport = 40001, .id = 3, .qr = true };

	(void)state;
	add(t, &q1, 0);
	add(t, &r1, 30);                        /* answered */
	add(t, &q2, 100);
	add(t, &r2, 100 + 6000);                /* too late */
	add(t, &q3, 200);
	add(t, &r_other, 300);                  /* no such id */
	add(t, &r_port, 300);                   /* wrong port */
	s = rotate(t, 6300);                    /* q3 is older than 5 s now */
	assert_int_equal(s->c.queries, 3);
	assert_int_equal(s->c.responses, 4);
	assert_int_equal(s->c.answered, 1);
	assert_int_equal(s->c.unanswered, 2);
	assert_int_equal(s->c.unmatched_responses, 3);
	assert_int_equal(s->pending, 0);
	assert_int_equal(s->sources[0].answered, 1);
	assert_int_equal(s->networks[0].answered, 1);

	/* A query still inside its window at rotation stays pending and is
	 * answered in the next interval. */
	add(t, &q1, 7000);
	s = rotate(t, 7100);
	assert_int_equal(s->pending, 1);
	assert_int_equal(s->c.answered, 0);
	add(t, &r1, 7200);
	s = rotate(t, 8000);
	assert_int_equal(s->c.answered, 1);
	assert_int_equal(s->c.queries, 0);
	traffic_free(t);
}

/* One bucket of 8: the ninth query pushes out the oldest. */
static void test_eviction(void **state)
{
	struct traffic_options o;
	struct traffic *t;
	const struct traffic_snapshot *s;

	(void)state;
	traffic_options_init(&o);
	o.pending_slots = 8;
	t = new_traffic(&o);
	for (uint16_t id = 0; id < 9; id++)
		add(t, &(struct msg){ .src = "192.0.2.1", .dst = "192.0.2.53", .id = id, .qname = "a" }, id);
	/* The first query is gone: its answer matches nothing. */
	add(t, &(struct msg){ .src = "192.0.2.53", .dst = "192.0.2.1", .id = 0, .qr = true }, 20);
	add(t, &(struct msg){ .src = "192.0.2.53", .dst = "192.0.2.1", .id = 8, .qr = true }, 20);
	s = rotate(t, 30);
	assert_int_equal(s->c.evicted, 1);
	assert_int_equal(s->c.unanswered, 1);
	assert_int_equal(s->c.answered, 1);
	assert_int_equal(s->c.unmatched_responses, 1);
	assert_int_equal(s->pending, 7);
	traffic_free(t);
}

static void test_no_response_tracking(void **state)
{
	struct traffic_options o;
	struct traffic *t;
	const struct traffic_snapshot *s;

	(void)state;
	traffic_options_init(&o);
	o.responses = false;
	t = new_traffic(&o);
	add(t, &(struct msg){ .src = "192.0.2.1", .dst = "192.0.2.53", .id = 1, .qname = "a" }, 0);
	add(t, &(struct msg){ .src = "192.0.2.53", .dst = "192.0.2.1", .id = 1, .qr = true }, 1);
	s = rotate(t, 10000);
	assert_int_equal(s->c.answered, 0);
	assert_int_equal(s->c.unanswered, 0);
	assert_int_equal(s->c.unmatched_responses, 0);
	assert_int_equal(s->c.responses, 1);
	traffic_free(t);
}

/* ---- recursion --------------------------------------------------------- */

static void test_recursion(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	const struct traffic_recursion *r;
	struct msg refused = { .src = "192.0.2.53", .dst = "192.0.2.1", .qr = true, .ra = true,
			       .rcode = DNS_RCODE_REFUSED, .qname = "r" };
	struct msg no_ra = { .src = "192.0.2.53", .dst = "192.0.2.1", .qr = true, .qname = "n" };
	struct msg offered = { .src = "2001:db8::53", .dst = "2001:db8::1", .dport = 5555, .qr = true, .ra = true,
			       .rcode = 3, .qname = "bad\nname", .qtype = 16 };

	(void)state;
	assert_int_equal(add(t, &refused, 0), 0);
	assert_int_equal(add(t, &no_ra, 1), 0);
	assert_null(traffic_recursion(t));
	assert_int_equal(add(t, &offered, 2), TRAFFIC_NOTE_RECURSION_OFFERED);
	assert_int_equal(add(t, &offered, 3), 0);       /* only the first is news */
	r = traffic_recursion(t);
	assert_non_null(r);
	assert_string_equal(r->querier_text, "2001:db8::1");
	assert_string_equal(r->server_text, "2001:db8::53");
	assert_int_equal(r->querier_port, 5555);
	assert_int_equal(r->qtype, 16);
	assert_int_equal(r->rcode, 3);
	assert_string_equal(r->qname, "bad\\010name");
	s = rotate(t, 10);
	assert_true(s->has_recursion);
	assert_int_equal(s->c.recursion_offered, 2);
	assert_string_equal(s->recursion.qname, "bad\\010name");
	/* A new interval reports a new first one. */
	assert_null(traffic_recursion(t));
	assert_int_equal(add(t, &offered, 20), TRAFFIC_NOTE_RECURSION_OFFERED);
	traffic_free(t);
}

/* ---- errors and totals ------------------------------------------------- */

static void test_errors_and_totals(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	struct traffic_counters tot;

	(void)state;
	traffic_add_error(t, DNS_ERR_FORWARD_POINTER);
	traffic_add_error(t, DNS_ERR_FORWARD_POINTER);
	traffic_add_error(t, DNS_ERR_TRUNCATED_IP);
	traffic_add_error(t, DNS_ERR_NOT_DNS_PORT);
	traffic_add_error(t, DNS_OK);                   /* not an error: ignored */
	traffic_add_error(t, _DNS_ERR_MAX);             /* out of range: ignored */
	add(t, &(struct msg){ .src = "192.0.2.1", .dst = "192.0.2.53", .qname = "a" }, 0);
	s = rotate(t, 1);
	assert_int_equal(s->c.packets, 5);
	assert_int_equal(s->c.malformed, 3);
	assert_int_equal(s->c.ignored, 1);
	assert_int_equal(s->c.by_reason[DNS_ERR_FORWARD_POINTER], 2);
	assert_int_equal(s->c.by_reason[DNS_ERR_TRUNCATED_IP], 1);
	assert_int_equal(s->c.by_reason[DNS_ERR_NOT_DNS_PORT], 1);

	traffic_add_error(t, DNS_ERR_BAD_LABEL_TYPE);
	add(t, &(struct msg){ .src = "192.0.2.1", .dst = "192.0.2.53", .qname = "b" }, 5);
	traffic_totals(t, &tot);
	assert_int_equal(tot.packets, 7);
	assert_int_equal(tot.queries, 2);
	assert_int_equal(tot.malformed, 4);
	s = rotate(t, 6);
	assert_int_equal(s->c.packets, 2);
	assert_int_equal(s->c.queries, 1);
	assert_int_equal(s->n_sources, 1);
	assert_int_equal(s->sources[0].queries, 1);
	assert_string_equal(s->qnames[0].qname, "b");
	traffic_totals(t, &tot);
	assert_int_equal(tot.packets, 7);
	traffic_free(t);
}

static void test_empty_interval(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s = rotate(t, 0);

	(void)state;
	assert_int_equal(s->c.packets, 0);
	assert_int_equal(s->n_sources, 0);
	assert_int_equal(s->n_qnames, 0);
	assert_int_equal(s->n_qtypes, 0);
	assert_int_equal(s->sources_distinct, 0);
	assert_false(s->has_recursion);
	traffic_free(t);
}

static void test_addr_text(void **state)
{
	struct traffic_addr a = { .family = AF_INET6, .prefix_len = 56, .addr = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x12 } };
	char text[TRAFFIC_ADDR_TEXT_MAX];

	(void)state;
	traffic_addr_to_text(&a, text);
	assert_string_equal(text, "2001:db8:12::/56");
	a = (struct traffic_addr){ .family = AF_INET, .prefix_len = 32, .addr = { 10, 53, 1, 2 } };
	traffic_addr_to_text(&a, text);
	assert_string_equal(text, "10.53.1.2");
}

/* ---- whose packet: the kernel rule's definition ---------------------------- */

/* A host with an uplink (2), a container bridge (5) and a veth (6) on it;
 * its addresses are the uplink's and the bridge's. */
static bool fake_internal(const void *ctx, uint32_t ifindex)
{
	(void)ctx;
	return ifindex == 5 || ifindex == 6;
}

static bool fake_local(const void *ctx, int family, const uint8_t *addr)
{
	static const char *const local[] = { "198.51.100.1", "192.0.2.1", "2001:db8::53", "127.0.0.1" };
	uint8_t a[16];

	(void)ctx;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		int f = strchr(local[i], ':') ? AF_INET6 : AF_INET;

		memset(a, 0, sizeof(a));
		assert_int_equal(inet_pton(f, local[i], a), 1);
		if (f == family && memcmp(a, addr, f == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

static void test_classify(void **state)
{
	static const struct traffic_host host = { .internal = fake_internal, .local_addr = fake_local };
	static const struct {
		const char *what;
		struct msg m;
		unsigned want;
	} cases[] = {
		{ "outside -> host address", { .src = "203.0.113.9", .dst = "198.51.100.1", .ifindex = 2 }, 0 },
		{ "outside -> host, IPv6", { .src = "2001:db8:9::9", .dst = "2001:db8::53", .ifindex = 2 }, 0 },
		{ "outside -> host, interface unknown", { .src = "203.0.113.9", .dst = "198.51.100.1" }, 0 },
		{ "container -> upstream, routed", { .src = "192.0.2.10", .dst = "203.0.113.53", .ifindex = 5 },
		  TRAFFIC_PKT_FOREIGN },
		{ "routed query arriving on the uplink", { .src = "203.0.113.9", .dst = "192.0.2.10", .ifindex = 2 },
		  TRAFFIC_PKT_FOREIGN },
		{ "container -> host resolver on the bridge", { .src = "192.0.2.10", .dst = "192.0.2.1", .ifindex = 5 },
		  TRAFFIC_PKT_FOREIGN },
		{ "container -> host address, on its veth", { .src = "192.0.2.10", .dst = "198.51.100.1", .ifindex = 6 },
		  TRAFFIC_PKT_FOREIGN },
		{ "loopback", { .src = "127.0.0.1", .dst = "127.0.0.1", .ifindex = 1 }, TRAFFIC_PKT_FOREIGN },
		{ "host listener answers an outside client",
		  { .src = "198.51.100.1", .dst = "203.0.113.9", .qr = true, .ra = true, .ifindex = 2 }, 0 },
		{ "host listener answers a container",
		  { .src = "192.0.2.1", .dst = "192.0.2.10", .qr = true, .ra = true, .ifindex = 5 }, TRAFFIC_PKT_FOREIGN },
		{ "upstream reply forwarded to a container",
		  { .src = "203.0.113.53", .dst = "192.0.2.10", .qr = true, .ra = true, .ifindex = 5 }, TRAFFIC_PKT_FOREIGN },
		{ "upstream reply forwarded out of the uplink",
		  { .src = "203.0.113.53", .dst = "203.0.113.9", .qr = true, .ra = true, .ifindex = 2 }, TRAFFIC_PKT_FOREIGN },
	};
	struct dns_packet p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make(&cases[i].m, &p);
		if (traffic_classify(&host, &p) != cases[i].want)
			fail_msg("%s: classified %u, want %u", cases[i].what, traffic_classify(&host, &p), cases[i].want);
	}
	/* Without an interface table nothing is foreign. */
	make(&cases[3].m, &p);
	assert_int_equal(traffic_classify(NULL, &p), 0);
	assert_int_equal(traffic_classify(&(struct traffic_host){ 0 }, &p), 0);
}

/* Foreign packets are counted as such, and never as queries, answers or
 * recursion. */
static void test_foreign(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	unsigned notes;

	(void)state;
	add_flags(t, &(struct msg){ .src = "192.0.2.10", .dst = "203.0.113.53", .id = 1, .qname = "a.p53" }, 0,
		  TRAFFIC_PKT_FOREIGN);
	notes = add_flags(t, &(struct msg){ .src = "203.0.113.53", .dst = "192.0.2.10", .id = 1, .qr = true, .ra = true,
					     .qname = "a.p53" }, 1, TRAFFIC_PKT_FOREIGN);
	assert_int_equal(notes, 0);
	assert_null(traffic_recursion(t));
	add(t, &(struct msg){ .src = "203.0.113.9", .dst = "198.51.100.1", .id = 2, .qname = "b.p53" }, 2);
	notes = add(t, &(struct msg){ .src = "198.51.100.1", .dst = "203.0.113.9", .id = 2, .qr = true, .ra = true,
				      .qname = "b.p53" }, 3);
	assert_int_equal(notes, TRAFFIC_NOTE_RECURSION_OFFERED);
	assert_non_null(traffic_recursion(t));
	s = rotate(t, 100);
	assert_int_equal(s->c.packets, 4);
	assert_int_equal(s->c.foreign, 2);
	assert_int_equal(s->c.queries, 1);
	assert_int_equal(s->c.responses, 1);
	assert_int_equal(s->c.answered, 1);
	assert_int_equal(s->c.unmatched_responses, 0);
	assert_int_equal(s->c.recursion_offered, 1);
	assert_int_equal(s->n_sources, 1);
	assert_string_equal(s->sources[0].addr_text, "203.0.113.9");
	assert_string_equal(s->recursion.querier_text, "203.0.113.9");
	traffic_free(t);
}

/* ---- count once ------------------------------------------------------------- */

static void test_duplicates(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	struct msg q = { .src = "203.0.113.9", .dst = "198.51.100.1", .id = 7, .qname = "dup.p53", .ip_id = 100 };
	struct msg r = { .src = "198.51.100.1", .dst = "203.0.113.9", .id = 7, .qr = true, .qname = "dup.p53",
			 .ip_id = 900 };

	(void)state;
	/* macvlan over a lower device: each query and its answer pass both. */
	for (int i = 0; i < 4; i++) {
		q.id = r.id = (uint16_t)(10 + i);
		q.ip_id = (uint32_t)(100 + i);
		r.ip_id = (uint32_t)(900 + i);
		q.ifindex = 3;
		assert_int_equal(add(t, &q, 10 * i), 0);
		q.ifindex = 4;
		assert_int_equal(add(t, &q, 10 * i), TRAFFIC_NOTE_DUPLICATE);
		r.ifindex = 4;
		assert_int_equal(add(t, &r, 10 * i + 1), 0);
		r.ifindex = 3;
		assert_int_equal(add(t, &r, 10 * i + 1), TRAFFIC_NOTE_DUPLICATE);
	}
	s = rotate(t, 1000);
	assert_int_equal(s->c.packets, 16);
	assert_int_equal(s->c.duplicates, 8);
	assert_int_equal(s->c.queries, 4);
	assert_int_equal(s->c.responses, 4);
	assert_int_equal(s->c.answered, 4);
	assert_int_equal(s->sources[0].queries, 4);

	q.id = 50;
	q.ip_id = 500;
	/* A bond slave and the bond deliver in either order. */
	q.ifindex = 8;
	assert_int_equal(add(t, &q, 2000), 0);
	q.ifindex = 7;
	assert_int_equal(add(t, &q, 1999), TRAFFIC_NOTE_DUPLICATE);
	/* ... and a third stacked device is a copy too. */
	q.ifindex = 9;
	assert_int_equal(add(t, &q, 2000), TRAFFIC_NOTE_DUPLICATE);
	/* The same bytes again on the same interface are a packet of their own. */
	q.ifindex = 8;
	assert_int_equal(add(t, &q, 2001), 0);
	/* On another interface, but later than the window: a packet too. */
	q.ifindex = 7;
	assert_int_equal(add(t, &q, 2001 + TRAFFIC_DUP_WINDOW_MS + 1), 0);
	/* A retransmission has a new IP ID: never a copy. */
	q.ip_id = 501;
	q.ifindex = 8;
	assert_int_equal(add(t, &q, 2100), 0);
	/* An unknown interface is never a copy. */
	q.ifindex = 0;
	assert_int_equal(add(t, &q, 2100), 0);
	assert_int_equal(add(t, &q, 2100), 0);
	/* A foreign packet does not hide the counted copy that follows it. */
	q.ip_id = 502;
	q.ifindex = 6;
	assert_int_equal(add_flags(t, &q, 2200, TRAFFIC_PKT_FOREIGN), 0);
	q.ifindex = 4;
	assert_int_equal(add(t, &q, 2200), 0);
	s = rotate(t, 3000);
	assert_int_equal(s->c.queries, 7);
	assert_int_equal(s->c.duplicates, 2);
	assert_int_equal(s->c.foreign, 1);
	traffic_free(t);
}

/* One named interface cannot show a packet twice: with
 * TRAFFIC_PKT_NO_COPIES the same packet on two interfaces counts twice,
 * and the exchange bookkeeping (deferred by one packet) still matches an
 * answer that follows its query at once, and counts the rest at rotation. */
static void test_no_copies(void **state)
{
	struct traffic *t = new_traffic(NULL);
	const struct traffic_snapshot *s;
	struct msg q = { .src = "203.0.113.9", .dst = "198.51.100.1", .id = 7, .qname = "dup.p53", .ip_id = 100 };
	struct msg r = { .src = "198.51.100.1", .dst = "203.0.113.9", .id = 7, .qr = true, .qname = "dup.p53",
			 .ip_id = 900 };

	(void)state;
	q.ifindex = 3;
	assert_int_equal(add_flags(t, &q, 10, TRAFFIC_PKT_NO_COPIES), 0);
	q.ifindex = 4;
	assert_int_equal(add_flags(t, &q, 10, TRAFFIC_PKT_NO_COPIES), 0);
	r.ifindex = 4;
	assert_int_equal(add_flags(t, &r, 11, TRAFFIC_PKT_NO_COPIES), 0);
	q.id = 8;
	assert_int_equal(add_flags(t, &q, 20, TRAFFIC_PKT_NO_COPIES), 0);
	s = rotate(t, 6000);
	assert_int_equal(s->c.packets, 4);
	assert_int_equal(s->c.duplicates, 0);
	assert_int_equal(s->c.queries, 3);
	assert_int_equal(s->c.answered, 1);
	/* The copy of id 7 and id 8: both expired unanswered at rotation. */
	assert_int_equal(s->c.unanswered, 2);
	assert_int_equal(s->pending, 0);
	assert_int_equal(s->sources[0].queries, 3);
	traffic_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_memory_cap),
		cmocka_unit_test(test_sources_and_names),
		cmocka_unit_test(test_rows_limit),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_sampling_off),
		cmocka_unit_test(test_sampling_reload),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_no_response_tracking),
		cmocka_unit_test(test_recursion),
		cmocka_unit_test(test_errors_and_totals),
		cmocka_unit_test(test_empty_interval),
		cmocka_unit_test(test_addr_text),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_no_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
