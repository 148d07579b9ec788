/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "traffic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PENDING_WAYS 8
/* Queries whose insertion waits (a power of two): enough lead for a
 * prefetch from memory whose caches a flood keeps evicting. */
#define PENDING_DEFER 16
#define HLL_BITS 12
#define HLL_REGS (1u << HLL_BITS)
#define N_QTYPES 65536

/* ---- hashing -------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit,
	 * which both the hash tables (low bits) and HyperLogLog (high bits) need. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t word(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* SipHash-1-3 (one compression round per word, three to finalise), the
 * variant Rust's and Python's hash tables use against hash flooding: with
 * a secret key per start, a sender still cannot aim keys at one bucket,
 * and it costs half the rounds of SipHash-2-4 (siphash.c), which matters at
 * four hashes per packet. The same algorithm, word for word, as the
 * reference on a little-endian host; the tables only need it to be keyed
 * and stable within one run, so the host's byte order is used as is. */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) do { \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32); \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32); \
	} while (0)

static inline uint64_t sip13(const struct siphash_key *k, const void *data, size_t len)
{
	uint64_t v0 = k->k0 ^ 0x736f6d6570736575ULL, v1 = k->k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k->k0 ^ 0x6c7967656e657261ULL, v3 = k->k1 ^ 0x7465646279746573ULL;
	const uint8_t *p = data;
	size_t full = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < full; i += 8) {
		m = word(p + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last word: the remaining bytes, the length's low byte on top. */
	m = 0;
	memcpy(&m, p + full, len - full);
	m |= (uint64_t)len << 56;
	v3 ^= m;
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- HyperLogLog: distinct counts in 4 KiB with ~1.6% error ---------- */

struct hll {
	uint8_t reg[HLL_REGS];
};

static void hll_add(struct hll *h, uint64_t hash)
{
	uint32_t i = (uint32_t)(hash >> (64 - HLL_BITS));
	uint64_t rest = hash << HLL_BITS | (1ULL << (HLL_BITS - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);

	if (rank > h->reg[i])
		h->reg[i] = rank;
}

/* Natural logarithm for x >= 1 without libm: x = f * 2^k with f in [1, 2),
 * ln f = 2 atanh((f - 1) / (f + 1)); the series converges fast there. */
static double ln(double x)
{
	double y, y2, term, sum = 0;
	int k = 0;

	while (x >= 2) {
		x /= 2;
		k++;
	}
	y = (x - 1) / (x + 1);
	y2 = y * y;
	term = y;
	for (int n = 1; n < 40; n += 2) {
		sum += term / n;
		term *= y2;
	}
	return 2 * sum + k * 0.69314718055994530942;
}

static uint64_t hll_estimate(const struct hll *h)
{
	double m = HLL_REGS, sum = 0, e;
	unsigned zeros = 0;

	for (unsigned i = 0; i < HLL_REGS; i++) {
		sum += 1.0 / (double)(1ULL << h->reg[i]);
		zeros += h->reg[i] == 0;
	}
	e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	/* Small ranges: linear counting is far more accurate there. */
	if (e <= 2.5 * m && zeros > 0)
		e = m * ln(m / zeros);
	return (uint64_t)(e + 0.5);
}

/* ---- space-saving top-K --------------------------------------------- */

/* One counter. Its key follows it in the same record, so a lookup touches
 * one record (56 bytes for an address, 40 for a name's hash). */
struct ss_entry {
	uint64_t count, error;
	uint32_t aux[2];                /* per-table counters (saturating) */
	uint32_t hash;                  /* the hash's high half: its low bits pick the home slot */
	uint16_t key_len;
};

/* The heap keeps a copy of each count next to the entry number, so that
 * sifting compares neighbours in one array instead of chasing records. */
struct ss_node {
	uint64_t count;
	uint32_t entry;
};

/* A fixed set of counters: a hash index to find a key, a min-heap on
 * count to find the one to replace when full. */
struct ss {
	uint32_t cap, n, mask;
	uint32_t key_max, stride, payload_size;
	bool replaced;                  /* an entry was ever replaced: counts are estimates */
	bool heaped;                    /* the heap is built (only needed once full) */
	uint64_t *slots;                /* entry + 1 in the low half, a hash tag in the high; 0 empty */
	struct ss_node *heap;
	uint32_t *pos;                  /* each entry's place in the heap: sifting touches no record */
	uint32_t *order;                /* scratch for sorting at snapshot time */
	uint8_t *rec;                   /* cap records of stride bytes */
	uint8_t *payload;               /* cold per-entry data, payload_size each */
};

/* Zeroed memory starting on a cache line: a record or bucket that fits in
 * one line is then read with one miss, not two. */
static void *zalloc_lines(size_t size)
{
	size_t rounded = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, rounded ? rounded : 64);

	if (p)
		memset(p, 0, rounded);
	return p;
}

static uint32_t ss_slot_count(uint32_t cap)
{
	uint32_t s = 1;

	while (s < cap * 2)
		s <<= 1;
	return s;
}

static uint32_t ss_stride(uint32_t key_max)
{
	return (uint32_t)(sizeof(struct ss_entry) + key_max + 7) & ~7u;
}

static size_t ss_memory(uint32_t cap, uint32_t key_max, uint32_t payload_size)
{
	return (size_t)ss_slot_count(cap) * sizeof(uint64_t) + (size_t)cap * sizeof(struct ss_node) +
	       (size_t)cap * (2 * sizeof(uint32_t) + ss_stride(key_max) + payload_size);
}

static int ss_init(struct ss *s, uint32_t cap, uint32_t key_max, uint32_t payload_size)
{
	*s = (struct ss){ .cap = cap, .key_max = key_max, .payload_size = payload_size };
	s->stride = ss_stride(key_max);
	s->mask = ss_slot_count(cap) - 1;
	s->slots = calloc((size_t)s->mask + 1, sizeof(uint64_t));
	s->heap = calloc(cap, sizeof(struct ss_node));
	s->pos = calloc(cap, sizeof(uint32_t));
	s->order = calloc(cap, sizeof(uint32_t));
	s->rec = zalloc_lines((size_t)cap * s->stride);
	s->payload = payload_size ? calloc(cap, payload_size) : NULL;
	if (!s->slots || !s->heap || !s->pos || !s->order || !s->rec || (payload_size && !s->payload))
		return -ENOMEM;
	return 0;
}

static void ss_fini(struct ss *s)
{
	free(s->slots);
	free(s->heap);
	free(s->pos);
	free(s->order);
	free(s->rec);
	free(s->payload);
}

static void ss_clear(struct ss *s)
{
	s->n = 0;
	s->replaced = s->heaped = false;
	memset(s->slots, 0, ((size_t)s->mask + 1) * sizeof(uint64_t));
}

static struct ss_entry *ss_entry(const struct ss *s, uint32_t i)
{
	return (struct ss_entry *)(s->rec + (size_t)i * s->stride);
}

static uint8_t *ss_key(const struct ss *s, uint32_t i)
{
	return s->rec + (size_t)i * s->stride + sizeof(struct ss_entry);
}

static void *ss_payload(const struct ss *s, uint32_t i)
{
	return s->payload + (size_t)i * s->payload_size;
}

static uint64_t ss_slot_value(uint32_t entry, uint64_t hash)
{
	return (hash & 0xffffffff00000000ULL) | (entry + 1);
}

static bool keys_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i = 0;

	for (; len - i >= 8; i += 8)
		if (word(a + i) != word(b + i))
			return false;
	for (; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The slot holding key, or the empty slot where it would go. The slot
 * keeps the hash's high half, which also picks the home slot: probing and
 * deleting compare and move slots without reading records. */
static uint32_t ss_probe(const struct ss *s, const void *key, size_t len, uint64_t hash)
{
	uint32_t j = (uint32_t)(hash >> 32) & s->mask;
	uint64_t v;

	while ((v = s->slots[j]) != 0) {
		uint32_t i = (uint32_t)v - 1;

		if ((v >> 32) == (hash >> 32) && ss_entry(s, i)->key_len == len &&
		    keys_equal(ss_key(s, i), key, len))
			break;
		j = (j + 1) & s->mask;
	}
	return j;
}

static int64_t ss_find(const struct ss *s, const void *key, size_t len, uint64_t hash)
{
	uint64_t v = s->slots[ss_probe(s, key, len, hash)];

	return v ? (int64_t)(uint32_t)v - 1 : -1;
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void ss_unlink(struct ss *s, uint32_t entry)
{
	const struct ss_entry *e = ss_entry(s, entry);
	uint32_t i = e->hash & s->mask, j;

	while ((uint32_t)s->slots[i] != entry + 1)
		i = (i + 1) & s->mask;
	for (j = i;;) {
		uint32_t home;

		j = (j + 1) & s->mask;
		if (s->slots[j] == 0)
			break;
		home = (uint32_t)(s->slots[j] >> 32) & s->mask;
		/* Move j back into the hole unless its home lies in (i, j]. */
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i] = 0;
}

static void ss_heap_swap(struct ss *s, uint32_t a, uint32_t b)
{
	struct ss_node t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->pos[s->heap[a].entry] = a;
	s->pos[s->heap[b].entry] = b;
}

/* A 4-ary min-heap: half the depth of a binary one, and the four children
 * of a node (16 bytes each) share one cache line. */
static void ss_sift_down(struct ss *s, uint32_t pos)
{
	for (;;) {
		uint32_t first = 4 * pos + 1, m = pos, last;

		if (first >= s->n)
			return;
		last = s->n - first < 4 ? s->n : first + 4;
		for (uint32_t c = first; c < last; c++)
			if (s->heap[c].count < s->heap[m].count)
				m = c;
		if (m == pos)
			return;
		ss_heap_swap(s, pos, m);
		pos = m;
	}
}

/* Gives entry i the key, with count and error as space-saving says. */
static void ss_take(struct ss *s, uint32_t i, uint32_t slot, const void *key, size_t len, uint64_t hash,
		    uint64_t count, uint64_t error)
{
	struct ss_entry *e = ss_entry(s, i);

	e->count = count;
	e->error = error;
	e->aux[0] = e->aux[1] = 0;
	e->hash = (uint32_t)(hash >> 32);
	e->key_len = (uint16_t)len;
	memcpy(ss_key(s, i), key, len);
	s->slots[slot] = ss_slot_value(i, hash);
}

/* The heap is only needed to find the smallest counter once the table is
 * full: until then increments cost no sifting. */
static void ss_heapify(struct ss *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		s->heap[i] = (struct ss_node){ .count = ss_entry(s, i)->count, .entry = i };
		s->pos[i] = i;
	}
	for (uint32_t i = s->n / 4 + 1; i-- > 0;)
		ss_sift_down(s, i);
	s->heaped = true;
}

/* Counts w hits for key and returns its entry; *ret_new says it just
 * entered the table. A new key takes a free entry, or replaces the
 * smallest counter and inherits its count as its error. Weighted
 * space-saving (a sampled query counts w) keeps the same bound. */
static uint32_t ss_hit(struct ss *s, const void *key, size_t len, uint64_t hash, uint32_t w, bool *ret_new)
{
	uint32_t j = ss_probe(s, key, len, hash), i;
	struct ss_entry *e;

	*ret_new = s->slots[j] == 0;
	if (!*ret_new) {
		i = (uint32_t)s->slots[j] - 1;
		e = ss_entry(s, i);
		e->count += w;
		if (s->heaped) {
			s->heap[s->pos[i]].count = e->count;
			ss_sift_down(s, s->pos[i]);
		}
		return i;
	}
	if (s->n < s->cap) {
		i = s->n++;
		ss_take(s, i, j, key, len, hash, w, 0);
		return i;
	}
	if (!s->heaped)
		ss_heapify(s);
	i = s->heap[0].entry;
	e = ss_entry(s, i);
	ss_unlink(s, i);
	s->replaced = true;
	/* The unlink may have moved keys: find the slot again. */
	ss_take(s, i, ss_probe(s, key, len, hash), key, len, hash, e->count + w, e->count);
	s->heap[0].count = e->count;
	ss_sift_down(s, 0);
	return i;
}

/* Largest guaranteed count (count - error) first, then largest count: once
 * the table has overflowed, rows that surely queried much come before rows
 * whose count is mostly inherited error. */
static int rank_cmp(uint64_t ca, uint64_t ea, uint64_t cb, uint64_t eb)
{
	uint64_t ga = ca - ea, gb = cb - eb;

	if (ga != gb)
		return ga < gb ? 1 : -1;
	return ca < cb ? 1 : ca > cb ? -1 : 0;
}

static int ss_order_cmp(const void *a, const void *b, void *userdata)
{
	const struct ss *s = userdata;
	const struct ss_entry *ea = ss_entry(s, *(const uint32_t *)a), *eb = ss_entry(s, *(const uint32_t *)b);

	return rank_cmp(ea->count, ea->error, eb->count, eb->error);
}

/* Sorts the entries by rank into s->order; returns how many there are. */
static uint32_t ss_sort(struct ss *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		s->order[i] = i;
	qsort_r(s->order, s->n, sizeof(uint32_t), ss_order_cmp, s);
	return s->n;
}

static void aux_add(uint32_t *c, uint32_t w)
{
	*c = *c > UINT32_MAX - w ? UINT32_MAX : *c + w;
}

/* ---- queries waiting for an answer --------------------------------- */

/* A set-associative table of queries awaiting an answer. A query is known
 * by a 64-bit hash of its addresses, ports, transport and DNS id: its low
 * bits pick the bucket, 32 others are kept as the way's tag (a false match
 * needs 44 equal bits, about one in 10^13 packets with the defaults). That
 * makes a bucket one cache line and the whole table small enough to stay in
 * cache. Tag 0 marks a free way. Ages are milliseconds modulo 2^32: only
 * differences are used. */
struct pending_bucket {
	uint32_t tag[PENDING_WAYS];
	uint32_t ts[PENDING_WAYS];
};

/* Buckets for at most slots queries: a power of two, so that choosing one
 * is a mask, not a division. */
static uint32_t pending_buckets(uint32_t slots)
{
	uint32_t n = 1;

	while (n * 2 <= slots / PENDING_WAYS)
		n *= 2;
	return n;
}

struct pending_table {
	uint32_t n_buckets;             /* a power of two */
	struct pending_bucket *b;
};

/* One recently counted packet; key 0 marks a free slot. */
struct dup_slot {
	uint64_t key;
	uint32_t ts;                    /* milliseconds modulo 2^32 */
	uint32_t ifindex;
};

/* ---- the accountant ------------------------------------------------- */

/* The names table is keyed by a 64-bit hash of the case-folded name (two
 * names would need a 64-bit collision to share a row), which keeps its hot
 * records small; the name itself is written once, when it enters. */
struct name_sample {
	uint16_t len;
	uint8_t wire[DNS_NAME_WIRE_MAX];
};

/* A sample of what a source asks: its first query in the interval. */
struct source_sample {
	uint16_t qtype;
	uint16_t qname_len;
	uint8_t qname[DNS_NAME_WIRE_MAX];
};

enum { AUX_TCP, AUX_ANSWERED };

/* An address as the tables key it: the (masked) address as two words and
 * the family, built and hashed in registers. */
struct addr_key {
	uint64_t w[2];
	uint64_t family;
};

/* A network's row while folding sources into networks. */
struct net_row {
	struct traffic_addr addr;
	uint64_t queries, overcount, tcp, answered;
};

struct traffic {
	struct traffic_options o;
	struct ss sources, qnames;
	struct net_row *nets;           /* source_slots rows of scratch for snapshots */
	uint64_t mask4[2], mask6[2];    /* of the network prefixes */
	struct hll hll_sources, hll_networks, hll_qnames;
	struct pending_table pending;
	/* The last PENDING_DEFER queries wait for their insertion (see
	 * pending_defer()), oldest at defer_head: each one's bucket was
	 * prefetched and has had that many packets' work to arrive in cache. */
	uint64_t defer_fp[PENDING_DEFER];
	uint32_t defer_now[PENDING_DEFER];
	unsigned defer_head, defer_n;
	/* Sampling (see traffic.h): the rate window, the 1-in-N now in force
	 * and the largest of the interval, and the draw's generator. */
	uint32_t win_start, win_queries;
	bool win_started, sampling_noted;
	uint32_t sample_mask;           /* N - 1 */
	uint32_t sample_max;
	uint64_t rng;
	struct dup_slot dup[TRAFFIC_DUP_SLOTS];
	uint64_t *qtypes;               /* N_QTYPES counters of this interval */
	uint64_t named_queries;         /* queries with a question, this interval */
	struct traffic_counters cur, total;
	bool started, has_recursion;
	struct timespec start;
	struct traffic_recursion recursion;
	struct traffic_snapshot snap;
	size_t memory;
};

/* ---- addresses ------------------------------------------------------ */


static void addr_set(struct traffic_addr *a, uint8_t family, const uint8_t *bytes, uint8_t prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	memset(a, 0, sizeof(*a));
	a->family = family;
	a->prefix_len = prefix;
	memcpy(a->addr, bytes, full);
	if (rest)
		a->addr[full] = bytes[full] & (uint8_t)(0xff00u >> rest);
}

/* Keyed: senders choose their source addresses, not where they land. */
static uint64_t addr_key_make(const struct siphash_key *key, struct addr_key *k, uint8_t family,
			      const uint8_t *bytes, const uint64_t *mask)
{
	k->w[0] = word(bytes) & mask[0];
	k->w[1] = word(bytes + 8) & mask[1];
	k->family = family;
	return sip13(key, k, sizeof(*k));
}

static void addr_key_to_addr(const struct addr_key *k, uint8_t prefix, struct traffic_addr *a)
{
	a->family = (uint8_t)k->family;
	a->prefix_len = prefix;
	memcpy(a->addr, k->w, 16);
}

/* The mask of a prefix, as the words of addr_key see it. */
static void prefix_mask(unsigned prefix, uint64_t *mask)
{
	uint8_t m[16] = { 0 };

	for (unsigned i = 0; i < 16; i++)
		m[i] = prefix >= 8 * (i + 1) ? 0xff : prefix > 8 * i ? (uint8_t)(0xff00u >> (prefix - 8 * i)) : 0;
	memcpy(mask, m, 16);
}

void traffic_addr_to_text(const struct traffic_addr *a, char *text)
{
	int af = a->family == AF_INET6 ? AF_INET6 : AF_INET;
	unsigned max = af == AF_INET6 ? 128 : 32;
	size_t n;

	if (!inet_ntop(af, a->addr, text, TRAFFIC_ADDR_TEXT_MAX)) {
		strcpy(text, "?");
		return;
	}
	n = strlen(text);
	if (a->prefix_len < max)
		snprintf(text + n, TRAFFIC_ADDR_TEXT_MAX - n, "/%u", a->prefix_len);
}

static void ip_to_text(uint8_t family, const uint8_t *bytes, char *text)
{
	struct traffic_addr a;

	addr_set(&a, family, bytes, family == AF_INET6 ? 128 : 32);
	traffic_addr_to_text(&a, text);
}

/* A fresh secret per start. Early in boot the pool may not be ready yet:
 * never block the start for it; a key from the clock and pid is still
 * unknown to a sender outside. */
static void traffic_random_key(struct siphash_key *key)
{
	uint8_t b[SIPHASH_KEY_SIZE];
	struct timespec ts;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) == (ssize_t)sizeof(b)) {
		siphash_key_from_bytes(key, b);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key->k0 = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid());
	clock_gettime(CLOCK_REALTIME, &ts);
	key->k1 = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)key);
}

void traffic_options_init(struct traffic_options *o)
{
	*o = (struct traffic_options){
		.source_slots = 4096,
		.qname_slots = 4096,
		.pending_slots = 32768,
		.answer_window_ms = 5000,
		.report_rows = 10,
		.prefix4 = 24,
		.prefix6 = 56,
		.responses = true,
	};
	traffic_random_key(&o->key);
}

static size_t traffic_memory_for(const struct traffic_options *o)
{
	size_t rows = o->report_rows;

	return sizeof(struct traffic) +
	       ss_memory(o->source_slots, sizeof(struct addr_key), sizeof(struct source_sample)) +
	       (size_t)o->source_slots * sizeof(struct net_row) +
	       ss_memory(o->qname_slots, sizeof(uint64_t), sizeof(struct name_sample)) +
	       (size_t)pending_buckets(o->pending_slots) * sizeof(struct pending_bucket) +
	       N_QTYPES * sizeof(uint64_t) +
	       rows * (2 * sizeof(struct traffic_source_row) + sizeof(struct traffic_name_row) +
		       sizeof(struct traffic_qtype_row));
}

static int options_check(const struct traffic_options *o)
{
	if (o->source_slots == 0 || o->qname_slots == 0 ||
	    o->pending_slots < PENDING_WAYS || o->report_rows == 0 || o->answer_window_ms == 0)
		return -EINVAL;
	if (o->source_slots > (1u << 24) || o->qname_slots > (1u << 24) || o->pending_slots > (1u << 24) ||
	    o->report_rows > TRAFFIC_ROWS_MAX || o->answer_window_ms > 3600000 || o->prefix4 > 32 ||
	    o->prefix6 > 128)
		return -EINVAL;
	if (traffic_memory_for(o) > TRAFFIC_MEMORY_MAX)
		return -E2BIG;
	return 0;
}

static int traffic_alloc_tables(struct traffic *t)
{
	const struct traffic_options *o = &t->o;
	size_t rows = o->report_rows;

	if (ss_init(&t->sources, o->source_slots, sizeof(struct addr_key), sizeof(struct source_sample)) < 0 ||
	    ss_init(&t->qnames, o->qname_slots, sizeof(uint64_t), sizeof(struct name_sample)) < 0)
		return -ENOMEM;
	t->pending.n_buckets = pending_buckets(o->pending_slots);
	t->pending.b = zalloc_lines((size_t)t->pending.n_buckets * sizeof(struct pending_bucket));
	t->qtypes = calloc(N_QTYPES, sizeof(uint64_t));
	t->snap.sources = calloc(rows, sizeof(struct traffic_source_row));
	t->snap.networks = calloc(rows, sizeof(struct traffic_source_row));
	t->nets = calloc(o->source_slots, sizeof(struct net_row));
	t->snap.qnames = calloc(rows, sizeof(struct traffic_name_row));
	t->snap.qtypes = calloc(rows, sizeof(struct traffic_qtype_row));
	if (!t->pending.b || !t->qtypes || !t->snap.sources || !t->snap.networks || !t->nets ||
	    !t->snap.qnames || !t->snap.qtypes)
		return -ENOMEM;
	return 0;
}

int traffic_new(const struct traffic_options *o, struct traffic **ret)
{
	struct traffic *t;
	int r;

	r = options_check(o);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->o = *o;
	/* The draw's seed comes from the secret key: unknown to senders. */
	t->rng = mix64(o->key.k0 ^ mix64(o->key.k1)) | 1;
	t->sample_max = 1;
	prefix_mask(o->prefix4, t->mask4);
	prefix_mask(o->prefix6, t->mask6);
	r = traffic_alloc_tables(t);
	if (r < 0) {
		traffic_free(t);
		return r;
	}
	t->memory = traffic_memory_for(o);
	*ret = t;
	return 0;
}

void traffic_free(struct traffic *t)
{
	if (!t)
		return;
	ss_fini(&t->sources);
	free(t->nets);
	ss_fini(&t->qnames);
	free(t->pending.b);
	free(t->qtypes);
	free(t->snap.sources);
	free(t->snap.networks);
	free(t->snap.qnames);
	free(t->snap.qtypes);
	free(t);
}

size_t traffic_memory(const struct traffic *t)
{
	return t->memory;
}

/* ---- answers -------------------------------------------------------- */

/* Milliseconds modulo 2^32: the pending table only compares differences. */
static uint32_t ts_ms(const struct timespec *ts)
{
	return (uint32_t)((uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000);
}

/* A query and its response describe the same exchange from both ends.
 * Keyed: every field is the sender's choice. IPv4 addresses fill half a
 * word each, so an IPv4 exchange is hashed as two words, not five: this
 * runs for every query and response. */
static uint64_t pending_fp(const struct siphash_key *key, const struct dns_packet *p)
{
	bool q = !p->hdr.qr;
	const uint8_t *client = q ? p->src : p->dst, *server = q ? p->dst : p->src;
	uint64_t ports = (uint64_t)(q ? p->sport : p->dport) | (uint64_t)(q ? p->dport : p->sport) << 16 |
			 (uint64_t)p->hdr.id << 32 | (uint64_t)p->family << 48 | (uint64_t)p->proto << 56;

	if (p->family == AF_INET) {
		uint32_t c, s;

		memcpy(&c, client, 4);
		memcpy(&s, server, 4);
		uint64_t v4[2] = { (uint64_t)c | (uint64_t)s << 32, ports };

		return sip13(key, v4, sizeof(v4));
	}
	uint64_t v[5] = { word(client), word(client + 8), word(server), word(server + 8), ports };

	return sip13(key, v, sizeof(v));
}

static struct pending_bucket *pending_bucket(struct traffic *t, uint64_t fp)
{
	return &t->pending.b[(uint32_t)fp & (t->pending.n_buckets - 1)];
}

static uint32_t pending_tag(uint64_t fp)
{
	return (uint32_t)(fp >> 32) | 1;
}

static bool way_expired(const struct traffic *t, const struct pending_bucket *b, unsigned w, uint32_t now)
{
	return b->tag[w] != 0 && (int32_t)(now - b->ts[w]) > (int32_t)t->o.answer_window_ms;
}

/* The way a new query takes: the first free or expired way, or else the
 * oldest (an eviction); a displaced query is unanswered. A retransmission
 * takes a way of its own: one response answers one of the copies and the
 * other expires unanswered, which is what happened on the wire. */
static unsigned pending_victim(struct traffic *t, const struct pending_bucket *b, uint32_t now)
{
	unsigned oldest = 0;

	for (unsigned w = 0; w < PENDING_WAYS; w++) {
		if (b->tag[w] == 0)
			return w;
		if ((int32_t)(now - b->ts[w]) > (int32_t)t->o.answer_window_ms) {
			t->cur.unanswered++;
			return w;
		}
		if ((int32_t)(b->ts[w] - b->ts[oldest]) < 0)
			oldest = w;
	}
	t->cur.unanswered++;
	t->cur.evicted++;
	return oldest;
}

static void pending_add(struct traffic *t, uint64_t fp, uint32_t now)
{
	struct pending_bucket *b = pending_bucket(t, fp);
	unsigned w = pending_victim(t, b, now);

	b->tag[w] = pending_tag(fp);
	b->ts[w] = now;
}

/* A bucket is a cache miss in a table bigger than the caches, and under a
 * flood the caches are cold: a query is inserted PENDING_DEFER queries
 * later, when the prefetch issued for it has landed, in the order the
 * queries came. Everything that reads the table (a response, a rotation,
 * traffic_flush()) inserts all of them first, so no answer is missed and
 * every interval's counts are exact; between packets, traffic_totals() may
 * not yet count up to PENDING_DEFER evictions. */
static void pending_flush(struct traffic *t)
{
	while (t->defer_n > 0) {
		pending_add(t, t->defer_fp[t->defer_head], t->defer_now[t->defer_head]);
		t->defer_head = (t->defer_head + 1) % PENDING_DEFER;
		t->defer_n--;
	}
}

static void pending_defer(struct traffic *t, uint64_t fp, uint32_t now)
{
	unsigned tail;

	if (t->defer_n == PENDING_DEFER) {
		pending_add(t, t->defer_fp[t->defer_head], t->defer_now[t->defer_head]);
		t->defer_head = (t->defer_head + 1) % PENDING_DEFER;
		t->defer_n--;
	}
	tail = (t->defer_head + t->defer_n) % PENDING_DEFER;
	t->defer_fp[tail] = fp;
	t->defer_now[tail] = now;
	t->defer_n++;
}

void traffic_flush(struct traffic *t)
{
	pending_flush(t);
}

/* Returns true when the response answers a query seen within the window. */
static bool pending_answer(struct traffic *t, const struct dns_packet *p, uint32_t now)
{
	uint64_t fp = pending_fp(&t->o.key, p);
	struct pending_bucket *b = pending_bucket(t, fp);
	uint32_t tag = pending_tag(fp);
	bool late;

	for (unsigned w = 0; w < PENDING_WAYS; w++) {
		if (b->tag[w] != tag)
			continue;
		late = way_expired(t, b, w, now);
		b->tag[w] = 0;
		if (late) {
			t->cur.unanswered++;
			return false;
		}
		t->cur.answered++;
		return true;
	}
	return false;
}

/* Expires what is too old at now; returns how many are still waiting. */
static uint64_t pending_sweep(struct traffic *t, uint32_t now)
{
	uint64_t waiting = 0;

	for (uint32_t i = 0; i < t->pending.n_buckets; i++) {
		struct pending_bucket *b = &t->pending.b[i];

		for (unsigned w = 0; w < PENDING_WAYS; w++) {
			if (way_expired(t, b, w, now)) {
				b->tag[w] = 0;
				t->cur.unanswered++;
			} else if (b->tag[w] != 0) {
				waiting++;
			}
		}
	}
	return waiting;
}

/* ---- adding packets ------------------------------------------------- */

/* A query's keys, hashed up front so that each table's first cache line
 * can be loading while the work on the others goes on. */
struct query_keys {
	struct addr_key src;
	uint64_t src_hash, name_hash, fp;
	size_t name_len;
	uint8_t name[DNS_NAME_WIRE_MAX];        /* case-folded wire form */
};

static void ss_prefetch(const struct ss *s, uint64_t hash)
{
	__builtin_prefetch(&s->slots[(uint32_t)(hash >> 32) & s->mask]);
}

/* A key already in its table entered it in this interval, when it went
 * into the interval's HyperLogLog too (both are cleared together): adding
 * it again would change no register, so only a key that just entered is
 * added. Returns whether the source just entered. */
static bool count_source(struct traffic *t, const struct dns_packet *p, const struct query_keys *q, uint32_t w)
{
	struct ss *s = &t->sources;
	struct source_sample *sample;
	uint32_t i;
	bool fresh;

	i = ss_hit(s, &q->src, sizeof(q->src), q->src_hash, w, &fresh);
	if (p->proto == IPPROTO_TCP)
		aux_add(&ss_entry(s, i)->aux[AUX_TCP], w);
	if (!fresh)
		return false;
	hll_add(&t->hll_sources, q->src_hash);
	sample = ss_payload(s, i);
	sample->qtype = p->qtype;
	sample->qname_len = p->qname.wire_len;
	memcpy(sample->qname, p->qname.wire, p->qname.wire_len);
	return true;
}

/* Networks are counted from the source table when reporting; here only
 * their distinct number is estimated, from sources that just entered the
 * table (a source still in it has had its network added this interval). */
static void count_network(struct traffic *t, const struct dns_packet *p)
{
	struct addr_key k;

	hll_add(&t->hll_networks, addr_key_make(&t->o.key, &k, p->family, p->src, p->family == AF_INET6 ? t->mask6 : t->mask4));
}

/* ASCII 'A'..'Z' to 'a'..'z' in eight bytes at once; other bytes stay. */
static uint64_t lower8(uint64_t x)
{
	uint64_t low7 = x & 0x7f7f7f7f7f7f7f7fULL;
	uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;  /* top bit set from 'A' on */
	uint64_t gt_z = low7 + 0x2525252525252525ULL;  /* top bit set after 'Z' */

	return x | (((ge_a ^ gt_z) & ~x & 0x8080808080808080ULL) >> 2);
}

/* Names differ only in ASCII case on the wire (resolvers randomise it);
 * length octets are at most 63, below 'A', so folding every byte is safe.
 * Folds into q->name and hashes in one pass over words. */
static void fold_name(const struct siphash_key *key, const struct dns_packet *p, struct query_keys *q)
{
	const uint8_t *w = p->qname.wire;
	size_t n = p->qname.wire_len, k;
	uint64_t v;

	for (k = 0; n - k >= 8; k += 8) {
		v = lower8(word(w + k));
		memcpy(q->name + k, &v, 8);
	}
	v = 0;
	memcpy(&v, w + k, n - k);
	v = lower8(v);
	memcpy(q->name + k, &v, n - k);
	q->name_len = n;
	/* Keyed: the table is keyed by this hash alone, so a chosen collision
	 * would merge two names' counts. */
	q->name_hash = sip13(key, q->name, n);
}

static void count_qname(struct traffic *t, const struct query_keys *q, uint32_t w)
{
	uint32_t i;
	bool fresh;

	i = ss_hit(&t->qnames, &q->name_hash, sizeof(q->name_hash), q->name_hash, w, &fresh);
	if (fresh) {
		/* As for sources: a name still in the table is in the HLL. */
		hll_add(&t->hll_qnames, q->name_hash);
		struct name_sample *sample = ss_payload(&t->qnames, i);

		sample->len = (uint16_t)q->name_len;
		memcpy(sample->wire, q->name, q->name_len);
	}
}

/* ---- sampling ------------------------------------------------------- */

static uint64_t draw(struct traffic *t)
{
	/* xorshift64: a few cycles; seeded from the secret key. */
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

/* A query's weight in the top-K tables: 1 when nothing is sampled, N for
 * the 1 in N drawn, 0 for the others. */
static uint32_t draw_weight(struct traffic *t)
{
	if (t->sample_mask == 0)
		return 1;
	return ((uint32_t)(draw(t) >> 32) & t->sample_mask) == 0 ? t->sample_mask + 1 : 0;
}

void traffic_set_sample_above(struct traffic *t, unsigned rate)
{
	t->o.sample_above = rate;
	if (rate == 0)
		t->sample_mask = 0;
}

/* Ends a rate window of age ms: the next one samples 1 in N, the smallest
 * power of two that brings the rate seen under sample_above. */
static unsigned sample_choose(struct traffic *t, uint32_t now, uint32_t age)
{
	uint64_t rate = (uint64_t)t->win_queries * 1000 / age;
	uint32_t n = 1;
	unsigned notes = 0;

	while (n < TRAFFIC_SAMPLE_MAX && rate > (uint64_t)t->o.sample_above * n)
		n <<= 1;
	t->sample_mask = n - 1;
	if (n > 1 && !t->sampling_noted) {
		t->sampling_noted = true;
		notes = TRAFFIC_NOTE_SAMPLING;
	}
	t->win_start = now;
	t->win_queries = 0;
	return notes;
}

/* Counts a query into the rate window; returns TRAFFIC_NOTE_SAMPLING when
 * sampling begins in this interval. */
static unsigned sample_tick(struct traffic *t, uint32_t now)
{
	int32_t age = (int32_t)(now - t->win_start);

	if (t->o.sample_above == 0)
		return 0;
	t->win_queries++;
	if (!t->win_started) {
		t->win_started = true;
		t->win_start = now;
		return 0;
	}
	/* Two handles deliver in their own order: a little out of order is
	 * counted in the window; a clock stepped back starts a new one. */
	if (age < -1000) {
		t->win_start = now;
		t->win_queries = 0;
		return 0;
	}
	return age >= (int32_t)TRAFFIC_SAMPLE_WINDOW_MS ? sample_choose(t, now, (uint32_t)age) : 0;
}

static unsigned add_query(struct traffic *t, const struct dns_packet *p, uint32_t now)
{
	static const uint64_t all[2] = { UINT64_MAX, UINT64_MAX };
	unsigned notes = sample_tick(t, now);
	uint32_t w = draw_weight(t);
	struct query_keys q;

	if (t->sample_mask >= t->sample_max)
		t->sample_max = t->sample_mask + 1;

	if (t->o.responses) {
		q.fp = pending_fp(&t->o.key, p);
		__builtin_prefetch(pending_bucket(t, q.fp), 1);
	}
	/* A query left out of the sample costs no hash and no table line. */
	if (w) {
		q.src_hash = addr_key_make(&t->o.key, &q.src, p->family, p->src, all);
		ss_prefetch(&t->sources, q.src_hash);
		if (p->has_question) {
			fold_name(&t->o.key, p, &q);
			ss_prefetch(&t->qnames, q.name_hash);
		}
	}
	t->cur.queries++;
	t->cur.queries_tcp += p->proto == IPPROTO_TCP;
	t->cur.queries_edns += p->edns;
	if (!w)
		t->cur.sampled_out++;
	else if (count_source(t, p, &q, w))
		count_network(t, p);
	if (t->o.responses)
		pending_defer(t, q.fp, now);
	if (p->has_question) {
		t->named_queries++;
		t->qtypes[p->qtype]++;
		if (w)
			count_qname(t, &q, w);
	}
	return notes;
}

/* Credits an answer to the querier's row, if it is still tracked. */
static void credit_answer(const struct siphash_key *key, struct ss *s, const struct dns_packet *p, uint32_t w)
{
	static const uint64_t all[2] = { UINT64_MAX, UINT64_MAX };
	struct addr_key k;
	uint64_t hash = addr_key_make(key, &k, p->family, p->dst, all);
	int64_t i = ss_find(s, &k, sizeof(k), hash);

	if (i >= 0)
		aux_add(&ss_entry(s, (uint32_t)i)->aux[AUX_ANSWERED], w);
}

static void note_recursion(struct traffic *t, const struct dns_packet *p, const struct timespec *ts)
{
	struct traffic_recursion *r = &t->recursion;

	memset(r, 0, sizeof(*r));
	r->ts = *ts;
	r->family = p->family;
	memcpy(r->querier, p->dst, 16);
	memcpy(r->server, p->src, 16);
	ip_to_text(p->family, p->dst, r->querier_text);
	ip_to_text(p->family, p->src, r->server_text);
	r->querier_port = p->dport;
	r->server_port = p->sport;
	r->proto = p->proto;
	r->qtype = p->qtype;
	r->rcode = p->hdr.rcode;
	r->aa = p->hdr.aa;
	dns_name_to_text(p->qname.wire, p->qname.wire_len, r->qname);
	t->has_recursion = true;
}

/* RA=1 says the server would recurse for this querier; a REFUSED answer
 * carries the flag without offering anything, so it does not count. */
static unsigned add_response(struct traffic *t, const struct dns_packet *p, const struct timespec *ts,
			     uint32_t now)
{
	t->cur.responses++;
	if (t->o.responses) {
		pending_flush(t);
		if (pending_answer(t, p, now)) {
			/* The rows' answered counts sample as their queries do. */
			uint32_t w = draw_weight(t);

			if (w)
				credit_answer(&t->o.key, &t->sources, p, w);
		} else {
			t->cur.unmatched_responses++;
		}
	}
	if (!p->hdr.ra || p->hdr.opcode != 0 || p->hdr.rcode == DNS_RCODE_REFUSED)
		return 0;
	t->cur.recursion_offered++;
	if (t->has_recursion)
		return 0;
	note_recursion(t, p, ts);
	return TRAFFIC_NOTE_RECURSION_OFFERED;
}

/* ---- whose packet, and was it counted already ------------------------ */

unsigned traffic_classify(const struct traffic_host *h, const struct dns_packet *p)
{
	uint32_t ifindex = p->ifindex > 0 ? (uint32_t)p->ifindex : 0;

	if (!h || !h->internal || !h->local_addr)
		return 0;
	if (ifindex == TRAFFIC_LOOPBACK_IFINDEX || (ifindex && h->internal(h->ctx, ifindex)))
		return TRAFFIC_PKT_FOREIGN;
	/* A query must be addressed to the host; an answer must come from it. */
	if (!h->local_addr(h->ctx, p->family, p->hdr.qr ? p->src : p->dst))
		return TRAFFIC_PKT_FOREIGN;
	return 0;
}

/* Everything that is the same in two copies of one packet, and little that
 * two different packets share: the IP ID (or flow label) and length tell a
 * retransmission from a copy. Keyed like every other table here. */
static uint64_t dup_key(const struct siphash_key *key, const struct dns_packet *p)
{
	uint64_t v[6] = {
		word(p->src), word(p->src + 8), word(p->dst), word(p->dst + 8),
		(uint64_t)p->sport | (uint64_t)p->dport << 16 | (uint64_t)p->hdr.id << 32 |
			(uint64_t)p->family << 48 | (uint64_t)p->proto << 56,
		(uint64_t)p->ip_id | (uint64_t)p->ip_len << 32 | (uint64_t)p->hdr.flags << 48,
	};
	uint64_t k = sip13(key, v, sizeof(v));

	return k ? k : 1;
}

static bool dup_seen(struct traffic *t, const struct dns_packet *p, uint32_t now)
{
	uint32_t ifindex = p->ifindex > 0 ? (uint32_t)p->ifindex : 0;
	uint64_t key;
	struct dup_slot *s;
	int32_t age;

	if (ifindex == 0)
		return false;
	key = dup_key(&t->o.key, p);
	s = &t->dup[key & (TRAFFIC_DUP_SLOTS - 1)];
	age = (int32_t)(now - s->ts);
	/* Two handles deliver in their own order: the copy may carry the
	 * earlier timestamp. */
	if (age < 0)
		age = -age;
	if (s->key == key && s->ifindex != ifindex && (uint32_t)age <= TRAFFIC_DUP_WINDOW_MS)
		return true;
	*s = (struct dup_slot){ .key = key, .ts = now, .ifindex = ifindex };
	return false;
}

unsigned traffic_add(struct traffic *t, const struct dns_packet *p, const struct timespec *ts, unsigned flags)
{
	uint32_t now = ts_ms(ts);

	if (!t->started) {
		t->start = *ts;
		t->started = true;
	}
	t->cur.packets++;
	if (flags & TRAFFIC_PKT_FOREIGN) {
		t->cur.foreign++;
		return 0;
	}
	if (!(flags & TRAFFIC_PKT_NO_COPIES) && dup_seen(t, p, now)) {
		t->cur.duplicates++;
		return TRAFFIC_NOTE_DUPLICATE;
	}
	if (p->rr_error != DNS_OK)
		t->cur.bad_records++;
	if (p->hdr.qr)
		return add_response(t, p, ts, now);
	return add_query(t, p, now);
}

void traffic_add_error(struct traffic *t, enum dns_error reason)
{
	if ((unsigned)reason >= _DNS_ERR_MAX || reason == DNS_OK)
		return;
	t->cur.packets++;
	t->cur.by_reason[reason]++;
	if (dns_error_is_malformed(reason))
		t->cur.malformed++;
	else
		t->cur.ignored++;
}

void traffic_idle(struct traffic *t, const struct timespec *now)
{
	int32_t age = (int32_t)(ts_ms(now) - t->win_start);

	if (t->sample_mask && t->win_started && age >= 2 * (int32_t)TRAFFIC_SAMPLE_WINDOW_MS) {
		t->sample_mask = 0;
		t->win_started = false;
		t->win_queries = 0;
	}
}

uint32_t traffic_sample_rate(const struct traffic *t)
{
	return t->sample_mask + 1;
}

const struct traffic_recursion *traffic_recursion(const struct traffic *t)
{
	return t->has_recursion ? &t->recursion : NULL;
}

/* ---- snapshots ------------------------------------------------------ */

static uint64_t distinct(const struct ss *s, const struct hll *h)
{
	uint64_t e;

	/* Until a counter was replaced the table saw every key: exact. */
	if (!s->replaced)
		return s->n;
	e = hll_estimate(h);
	return e > s->n ? e : s->n;
}

static void fill_source_row(const struct ss *s, uint32_t i, struct traffic_source_row *row)
{
	const struct ss_entry *e = ss_entry(s, i);
	const struct source_sample *sample;

	const struct addr_key *k = (const struct addr_key *)ss_key(s, i);

	addr_key_to_addr(k, k->family == AF_INET6 ? 128 : 32, &row->addr);
	traffic_addr_to_text(&row->addr, row->addr_text);
	row->queries = e->count;
	row->overcount = e->error;
	row->tcp = e->aux[AUX_TCP];
	row->answered = e->aux[AUX_ANSWERED];
	sample = ss_payload(s, i);
	row->qtype = sample->qtype;
	dns_name_to_text(sample->qname, sample->qname_len, row->qname);
}

/* Top rows of a source table; returns the queries they account for. */
static uint64_t snap_sources(struct traffic *t, struct ss *s, struct traffic_source_row *rows, size_t *ret_n)
{
	uint32_t n = ss_sort(s);
	uint64_t sum = 0;
	size_t k;

	for (k = 0; k < n && k < t->o.report_rows; k++) {
		fill_source_row(s, s->order[k], &rows[k]);
		sum += rows[k].queries;
	}
	*ret_n = k;
	return sum;
}

static int net_addr_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct net_row *)a)->addr, &((const struct net_row *)b)->addr,
		      sizeof(struct traffic_addr));
}

static int net_count_cmp(const void *a, const void *b)
{
	const struct net_row *x = a, *y = b;

	return rank_cmp(x->queries, x->overcount, y->queries, y->overcount);
}

/* Folds the tracked sources into their networks: sort by network, merge
 * neighbours, sort by count. Returns n and the merged rows in t->nets. */
static size_t fold_networks(struct traffic *t)
{
	const struct ss *s = &t->sources;
	size_t n = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		const struct ss_entry *e = ss_entry(s, i);
		const struct addr_key *k = (const struct addr_key *)ss_key(s, i);
		bool v6 = k->family == AF_INET6;
		struct addr_key net;

		addr_key_make(&t->o.key, &net, (uint8_t)k->family, (const uint8_t *)k->w, v6 ? t->mask6 : t->mask4);
		addr_key_to_addr(&net, v6 ? t->o.prefix6 : t->o.prefix4, &t->nets[i].addr);
		t->nets[i].queries = e->count;
		t->nets[i].overcount = e->error;
		t->nets[i].tcp = e->aux[AUX_TCP];
		t->nets[i].answered = e->aux[AUX_ANSWERED];
	}
	qsort(t->nets, s->n, sizeof(struct net_row), net_addr_cmp);
	for (uint32_t i = 0; i < s->n; i++) {
		struct net_row *m = &t->nets[n - (n > 0)];

		if (n > 0 && net_addr_cmp(m, &t->nets[i]) == 0) {
			m->queries += t->nets[i].queries;
			m->overcount += t->nets[i].overcount;
			m->tcp += t->nets[i].tcp;
			m->answered += t->nets[i].answered;
		} else {
			t->nets[n++] = t->nets[i];
		}
	}
	qsort(t->nets, n, sizeof(struct net_row), net_count_cmp);
	return n;
}

/* Network rows; returns the queries they account for. */
static uint64_t snap_networks(struct traffic *t, uint64_t *ret_distinct)
{
	struct traffic_snapshot *sn = &t->snap;
	size_t n = fold_networks(t), k;
	uint64_t sum = 0, e;

	for (k = 0; k < n && k < t->o.report_rows; k++) {
		struct traffic_source_row *row = &sn->networks[k];

		*row = (struct traffic_source_row){ .addr = t->nets[k].addr, .queries = t->nets[k].queries,
						    .overcount = t->nets[k].overcount, .tcp = t->nets[k].tcp,
						    .answered = t->nets[k].answered };
		traffic_addr_to_text(&row->addr, row->addr_text);
		sum += row->queries;
	}
	sn->n_networks = k;
	e = hll_estimate(&t->hll_networks);
	/* Without a replaced source every network was seen: exact. */
	*ret_distinct = !t->sources.replaced ? n : e > n ? e : n;
	return sum;
}

static uint64_t snap_qnames(struct traffic *t)
{
	struct ss *s = &t->qnames;
	uint32_t n = ss_sort(s);
	uint64_t sum = 0;
	size_t k;

	for (k = 0; k < n && k < t->o.report_rows; k++) {
		uint32_t i = s->order[k];
		struct traffic_name_row *row = &t->snap.qnames[k];

		const struct name_sample *sample = ss_payload(s, i);

		dns_name_to_text(sample->wire, sample->len, row->qname);
		row->queries = ss_entry(s, i)->count;
		row->overcount = ss_entry(s, i)->error;
		sum += row->queries;
	}
	t->snap.n_qnames = k;
	return sum;
}

/* Keeps the report_rows largest type counters by insertion into a short
 * sorted list: one pass over the counters, no second table. */
static void snap_qtypes(struct traffic *t)
{
	struct traffic_snapshot *sn = &t->snap;
	size_t rows = t->o.report_rows, n = 0, kinds = 0;

	for (uint32_t q = 0; q < N_QTYPES; q++) {
		size_t k;

		if (t->qtypes[q] == 0)
			continue;
		kinds++;
		if (n == rows && t->qtypes[q] <= sn->qtypes[n - 1].queries)
			continue;
		k = n < rows ? n++ : n - 1;
		for (; k > 0 && sn->qtypes[k - 1].queries < t->qtypes[q]; k--)
			sn->qtypes[k] = sn->qtypes[k - 1];
		sn->qtypes[k] = (struct traffic_qtype_row){ .qtype = (uint16_t)q, .queries = t->qtypes[q] };
	}
	sn->n_qtypes = n;
	sn->qtypes_suppressed = kinds - n;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static void snap_build(struct traffic *t, const struct timespec *now, uint64_t waiting)
{
	struct traffic_snapshot *sn = &t->snap;
	uint64_t sum;

	sn->start = t->started ? t->start : *now;
	sn->end = *now;
	sn->c = t->cur;
	sn->pending = waiting;
	sn->sample_rate = t->sample_max;
	sum = snap_sources(t, &t->sources, sn->sources, &sn->n_sources);
	sn->sources_distinct = distinct(&t->sources, &t->hll_sources);
	sn->sources_suppressed = sub0(sn->sources_distinct, sn->n_sources);
	sn->sources_queries_suppressed = sub0(t->cur.queries, sum);
	sum = snap_networks(t, &sn->networks_distinct);
	sn->networks_suppressed = sub0(sn->networks_distinct, sn->n_networks);
	sn->networks_queries_suppressed = sub0(t->cur.queries, sum);
	sum = snap_qnames(t);
	sn->qnames_distinct = distinct(&t->qnames, &t->hll_qnames);
	sn->qnames_suppressed = sub0(sn->qnames_distinct, sn->n_qnames);
	sn->qnames_queries_suppressed = sub0(t->named_queries, sum);
	snap_qtypes(t);
	sn->has_recursion = t->has_recursion;
	sn->recursion = t->recursion;
}

static void counters_add(struct traffic_counters *to, const struct traffic_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)to;

	/* struct traffic_counters is nothing but uint64_t fields. */
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

static void interval_reset(struct traffic *t, const struct timespec *now)
{
	counters_add(&t->total, &t->cur);
	memset(&t->cur, 0, sizeof(t->cur));
	ss_clear(&t->sources);
	ss_clear(&t->qnames);
	memset(&t->hll_sources, 0, sizeof(struct hll));
	memset(&t->hll_networks, 0, sizeof(struct hll));
	memset(&t->hll_qnames, 0, sizeof(struct hll));
	memset(t->qtypes, 0, N_QTYPES * sizeof(uint64_t));
	t->named_queries = 0;
	t->has_recursion = false;
	/* The rate in force carries over to the next window; the snapshot
	 * says the largest applied to a query of its interval, and each
	 * interval that samples notes it once. */
	t->sample_max = 1;
	t->sampling_noted = false;
	t->start = *now;
	t->started = true;
}

const struct traffic_snapshot *traffic_rotate(struct traffic *t, const struct timespec *now)
{
	uint64_t waiting;

	pending_flush(t);
	waiting = pending_sweep(t, ts_ms(now));

	snap_build(t, now, waiting);
	interval_reset(t, now);
	return &t->snap;
}

void traffic_totals(const struct traffic *t, struct traffic_counters *ret)
{
	*ret = t->total;
	counters_add(ret, &t->cur);
}
