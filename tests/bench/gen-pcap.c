/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gen-pcap COUNT FILE: writes COUNT Ethernet packets of DNS traffic as a
 * server would see it, for tests/bench/capture:
 *  - queries from 60,000 IPv4 and 4,000 IPv6 clients, client popularity
 *    and query names both Zipf distributed (s = 1.1; 200,000 names under
 *    2,000 zones), A/AAAA/HTTPS/TXT/MX/PTR/ANY in rough real proportions,
 *    70% with EDNS, 5% over TCP (the segment with the query);
 *  - a response for about half of the queries, right after them, RA set;
 *  - 1% malformed: cut headers, cut names, forward pointers, bad label types;
 *  - 1% not DNS at all (other ports).
 * Deterministic (fixed seed), no dependencies: built with cc by the script.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define N_NAMES 200000
#define N_ZONES 2000
#define N_V4 60000
#define N_V6 4000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double uniform(void)
{
	return (double)(next() >> 11) / 9007199254740992.0;
}

/* Inverse-CDF sampling over a precomputed Zipf table. */
struct zipf {
	double *cdf;
	unsigned n;
};

static void zipf_init(struct zipf *z, unsigned n, double s)
{
	double sum = 0;

	z->n = n;
	z->cdf = malloc(n * sizeof(double));
	if (!z->cdf)
		exit(1);
	for (unsigned i = 0; i < n; i++)
		z->cdf[i] = (sum += 1.0 / pow(i + 1, s));
	for (unsigned i = 0; i < n; i++)
		z->cdf[i] /= sum;
}

static unsigned zipf_draw(const struct zipf *z)
{
	double u = uniform();
	unsigned lo = 0, hi = z->n - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct pkt {
	uint8_t b[1600];
	size_t n;
};

static void put(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void put8(struct pkt *p, uint8_t v) { p->b[p->n++] = v; }
static void put16(struct pkt *p, uint16_t v) { put8(p, (uint8_t)(v >> 8)); put8(p, (uint8_t)v); }
static void put32(struct pkt *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p, (uint16_t)v); }
static void set16(struct pkt *p, size_t at, uint16_t v) { p->b[at] = (uint8_t)(v >> 8); p->b[at + 1] = (uint8_t)v; }

static const char *const words[] = { "www", "api", "cdn", "mail", "img", "static", "login", "m", "app", "edge" };
static const char *const tlds[] = { "com", "net", "org", "io", "de", "jp", "example" };

static void put_qname(struct pkt *p, unsigned rank)
{
	char label[32];
	int n;

	n = snprintf(label, sizeof(label), "%s%u", words[rank % 10], rank / 10 % 100);
	put8(p, (uint8_t)n);
	put(p, label, (size_t)n);
	n = snprintf(label, sizeof(label), "zone%u", rank % N_ZONES);
	put8(p, (uint8_t)n);
	put(p, label, (size_t)n);
	n = (int)strlen(tlds[rank % 7]);
	put8(p, (uint8_t)n);
	put(p, tlds[rank % 7], (size_t)n);
	put8(p, 0);
}

static uint16_t draw_qtype(void)
{
	static const uint16_t types[] = { 1, 1, 1, 1, 1, 1, 28, 28, 28, 65, 16, 15, 12, 255 };

	return types[next() % (sizeof(types) / sizeof(types[0]))];
}

struct query {
	int v6;
	uint32_t client;
	uint16_t cport, id, qtype;
	unsigned name;
	int tcp, edns;
};

/* The DNS message of a query (or its response), without transport. */
static void put_dns(struct pkt *p, const struct query *q, int response)
{
	put16(p, q->id);
	put16(p, response ? 0x8180 : 0x0100);
	put16(p, 1);
	put16(p, response ? 1 : 0);
	put16(p, 0);
	put16(p, q->edns ? 1 : 0);
	put_qname(p, q->name);
	put16(p, q->qtype);
	put16(p, 1);
	if (response) {
		put16(p, 0xc00c);
		put16(p, q->qtype);
		put16(p, 1);
		put32(p, 300);
		put16(p, 4);
		put32(p, 0xc0000200 | (q->name & 0xff));
	}
	if (q->edns) {
		put8(p, 0);
		put16(p, 41);
		put16(p, 1232);
		put32(p, 0);
		put16(p, 0);
	}
}

static void put_addr(struct pkt *p, int v6, uint32_t host)
{
	if (v6) {
		put32(p, 0x20010db8);
		put32(p, host >> 8);
		put32(p, 0);
		put32(p, host);
	} else {
		put32(p, 0x0a000000 | host);
	}
}

/* Ethernet, IP, UDP or TCP around dns (from client to server when !resp). */
static void frame(struct pkt *out, const struct query *q, const struct pkt *dns, int resp)
{
	static const uint8_t mac[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	size_t ip, l4, l4len = (q->tcp ? 22 : 8) + dns->n;
	uint32_t server = q->v6 ? 0x53 : 0x35353535 & 0xffffff;

	out->n = 0;
	put(out, mac, 12);
	put16(out, q->v6 ? 0x86dd : 0x0800);
	ip = out->n;
	if (q->v6) {
		put32(out, 0x60000000);
		put16(out, (uint16_t)l4len);
		put8(out, q->tcp ? 6 : 17);
		put8(out, 64);
		put_addr(out, 1, resp ? server : q->client);
		put_addr(out, 1, resp ? q->client : server);
	} else {
		put16(out, 0x4500);
		put16(out, (uint16_t)(20 + l4len));
		put32(out, 0x40000000);
		put16(out, q->tcp ? 0x4006 : 0x4011);
		put16(out, 0);
		put_addr(out, 0, resp ? server : q->client);
		put_addr(out, 0, resp ? q->client : server);
	}
	(void)ip;
	l4 = out->n;
	put16(out, resp ? 53 : q->cport);
	put16(out, resp ? q->cport : 53);
	if (q->tcp) {
		put32(out, 1);
		put32(out, 1);
		put16(out, 0x5018);
		put16(out, 1024);
		put32(out, 0);
		put16(out, (uint16_t)dns->n);
	} else {
		put16(out, (uint16_t)l4len);
		put16(out, 0);
	}
	(void)l4;
	put(out, dns->b, dns->n);
}

/* Breaks a good query frame in one of the ways the parser names. */
static void break_frame(struct pkt *f, int v6)
{
	size_t dns = 14 + (v6 ? 40 : 20) + 8;

	switch (next() % 5) {
	case 0: f->n = 14 + 10; break;                          /* truncated_ip */
	case 1: f->n = dns + 7; break;                          /* truncated_dns_header */
	case 2: f->n = dns + 16; break;                         /* truncated_name */
	case 3: f->b[dns + 12] = 0xc0; f->b[dns + 13] = 0x40; break;   /* forward_pointer */
	default: f->b[dns + 12] = 0x80; break;                  /* bad_label_type */
	}
}

static void write_record(FILE *out, uint64_t t_us, const struct pkt *f)
{
	uint32_t h[4] = { (uint32_t)(1700000000 + t_us / 1000000), (uint32_t)(t_us % 1000000),
			  (uint32_t)f->n, (uint32_t)f->n };

	fwrite(h, sizeof(h), 1, out);
	fwrite(f->b, f->n, 1, out);
}

static void make_query(struct query *q, const struct zipf *clients, const struct zipf *names)
{
	unsigned c = zipf_draw(clients);

	q->v6 = c >= N_V4;
	q->client = q->v6 ? c - N_V4 + 1 : c + 1;
	q->cport = (uint16_t)(1024 + next() % 60000);
	q->id = (uint16_t)next();
	q->qtype = draw_qtype();
	q->name = zipf_draw(names);
	q->tcp = next() % 100 < 5;
	q->edns = next() % 100 < 70;
}

int main(int argc, char **argv)
{
	static const uint32_t ghdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	struct zipf clients, names;
	struct pkt dns, f;
	struct query q, pending = { 0 };
	int have_pending = 0;
	unsigned long count;
	uint64_t t = 0;
	FILE *out;

	if (argc != 3 || (count = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: gen-pcap COUNT FILE\n");
		return 2;
	}
	out = fopen(argv[2], "wb");
	if (!out)
		return 1;
	zipf_init(&clients, N_V4 + N_V6, 1.1);
	zipf_init(&names, N_NAMES, 1.1);
	fwrite(ghdr, sizeof(ghdr), 1, out);
	for (unsigned long i = 0; i < count; i++) {
		t += 5 + next() % 10;
		dns.n = 0;
		if (have_pending && next() % 2) {
			put_dns(&dns, &pending, 1);
			frame(&f, &pending, &dns, 1);
			have_pending = 0;
		} else {
			make_query(&q, &clients, &names);
			put_dns(&dns, &q, 0);
			frame(&f, &q, &dns, 0);
			if (next() % 100 == 0)
				break_frame(&f, q.v6);
			else if (next() % 100 == 0)
				set16(&f, 14 + (q.v6 ? 40 : 20) + 2, 123);     /* NTP, not DNS */
			else if (next() % 2) {
				pending = q;
				have_pending = 1;
			}
		}
		write_record(out, t, &f);
	}
	free(clients.cdf);
	free(names.cdf);
	return fclose(out) == 0 ? 0 : 1;
}
