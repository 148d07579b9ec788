/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Accounting of parsed DNS packets in bounded memory: who queries (per
 * address and per /24 or /56 network), for what (top names, per type),
 * whether the host answers, and whether it offers recursion.
 *
 * Every table is allocated once by traffic_new() and never grows: sources
 * and names are space-saving top-K tables (Metwally et al.: a new key
 * replaces the smallest counter and inherits its count as the error bound;
 * names are keyed by a 64-bit hash of the ASCII case-folded name), networks
 * (/24, /56) are the tracked sources folded together when a snapshot is
 * taken, distinct counts are HyperLogLog estimates (4 KiB each, ~1.6%), and
 * queries waiting for an answer sit in a set-associative table, known by a
 * 64-bit fingerprint of addresses, ports, transport and DNS id, whose
 * evictions count as unanswered. A packet seen again on another interface
 * within TRAFFIC_DUP_WINDOW_MS (stacked devices: macvlan, ipvlan or VLAN
 * over a lower device, bond slaves, bridge ports) is counted once: see
 * traffic_add(). With the defaults all of it takes about
 * 4 MiB and stays under TRAFFIC_MEMORY_MAX whatever the traffic;
 * traffic_memory() reports the exact figure.
 *
 * Pure like dns.c: no I/O, no clock (time comes with each packet), no
 * globals, so tests and fuzzers drive it directly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns.h"
#include "siphash.h"

#define TRAFFIC_MEMORY_MAX (8u << 20)
#define TRAFFIC_ROWS_MAX 1000

struct traffic_options {
	unsigned source_slots;          /* addresses tracked; default 4096 */
	unsigned qname_slots;           /* names tracked; default 4096 */
	unsigned pending_slots;         /* queries awaiting an answer; default 32768 (rounded
	                                 * down to 8 times a power of two) */
	unsigned answer_window_ms;      /* an answer later than this does not count; default 5000 */
	unsigned report_rows;           /* rows per list in a snapshot; default 10, at most TRAFFIC_ROWS_MAX */
	uint8_t prefix4;                /* network prefix for IPv4 sources; default 24 */
	uint8_t prefix6;                /* network prefix for IPv6 sources; default 56 */
	bool responses;                 /* responses are captured: match them to queries */
	/* Queries per second above which the top-K tables (sources, networks,
	 * names) sample: see "Sampling" below. 0 (the default of
	 * traffic_options_init()): never, every query is accounted exactly. */
	unsigned sample_above;
	struct siphash_key key;         /* of the table hashes; random, new for every
	                                 * traffic_options_init() (getrandom) */
};

/* What the agent and replay use for sample_above. */
#define TRAFFIC_SAMPLE_ABOVE_DEFAULT 10000u
/* The rate is measured over this much packet time, and the sampling rate
 * chosen for the next stretch. */
#define TRAFFIC_SAMPLE_WINDOW_MS 100u
#define TRAFFIC_SAMPLE_MAX 1024u

/*
 * Sampling. With sample_above = R > 0, the query rate is measured over
 * every TRAFFIC_SAMPLE_WINDOW_MS of packet time. When it exceeds R, the
 * next window's queries enter the top-K tables (sources and their /24 and
 * /56 networks, names, the per-source tcp and answered counts, the distinct
 * estimates) with probability 1/N each, and each one that does counts N:
 * N is the smallest power of two (at most TRAFFIC_SAMPLE_MAX) that brings
 * the rate under R. The choice is a keyed pseudo-random draw per query, so
 * a sender cannot time its queries to stay out of the sample.
 *
 * Everything else stays exact whatever the rate: the counters
 * (packets, queries, responses, tcp, edns, malformed per reason, ...), the
 * query types, and answered/unanswered, which the table of waiting queries
 * decides for every query. Under sampling a row's queries is an unbiased
 * estimate: besides the space-saving overcount, the sample adds an error
 * whose standard deviation is at most sqrt(N * true count), so the true
 * count lies in [queries - overcount - 3 * sqrt(N * queries),
 * queries + 3 * sqrt(N * queries)] but for a ~0.3% chance per row. A
 * distinct count then counts only the keys that were sampled (a lower
 * estimate). The snapshot says the largest N used (sample_rate), the
 * counters how many queries the tables did not see (sampled_out).
 */

/* Fills the defaults above. */
void traffic_options_init(struct traffic_options *o);

struct traffic;

/* Allocates every table. -EINVAL for a zero or oversized option, -E2BIG
 * when the tables would exceed TRAFFIC_MEMORY_MAX, -ENOMEM. */
int traffic_new(const struct traffic_options *o, struct traffic **ret);
void traffic_free(struct traffic *t);
/* Bytes held by t and all its tables. */
size_t traffic_memory(const struct traffic *t);

/*
 * Which packets are this host's business, by the same definition as the
 * kernel rule: a query addressed to the host (its destination is a local
 * address) that arrived from outside (not on loopback, not on a
 * host-internal interface), or an answer leaving a listener of this host
 * (its source is a local address) towards an outside client (not by
 * loopback or a host-internal interface). Everything else (queries routed
 * or forwarded for containers and VMs, their upstream replies, traffic on
 * the host's own container and VM networks) is "foreign": counted as such
 * and nothing more.
 *
 * The caller supplies the facts, so that this stays pure: the interface
 * comes from the packet (dns_packet.ifindex, which the caller fills for
 * captures of one named interface), "internal" and "local" from whatever
 * table the caller keeps. An interface index of 0 (unknown) is outside.
 * A NULL host, or NULL callbacks, classify nothing as foreign: without an
 * interface table every packet counts, as a capture of an unknown host must.
 */
struct traffic_host {
	bool (*internal)(const void *ctx, uint32_t ifindex);
	bool (*local_addr)(const void *ctx, int family, const uint8_t *addr);
	const void *ctx;
};

/* Flags for traffic_add(). */
enum {
	TRAFFIC_PKT_FOREIGN = 1u << 0,          /* not between this host and an outside peer */
	/* The capture cannot deliver copies (one handle on one named
	 * interface): the duplicate check is skipped. */
	TRAFFIC_PKT_NO_COPIES = 1u << 1,
};

#define TRAFFIC_LOOPBACK_IFINDEX 1u             /* lo, in every network namespace */

/* TRAFFIC_PKT_FOREIGN or 0 for p. */
unsigned traffic_classify(const struct traffic_host *h, const struct dns_packet *p);

/* What traffic_add() noticed that deserves an event at once. */
enum {
	TRAFFIC_NOTE_RECURSION_OFFERED = 1u << 0,       /* first of the interval: see traffic_recursion() */
	TRAFFIC_NOTE_DUPLICATE = 1u << 1,               /* a copy already counted: ignore it */
	TRAFFIC_NOTE_SAMPLING = 1u << 2,                /* the interval's first sampling rate
	                                                 * above 1: see traffic_sample_rate() */
};

/* A copy of a packet on another interface arrives within microseconds;
 * a retransmission takes a second or more and has a new IP ID. */
#define TRAFFIC_DUP_WINDOW_MS 50u
#define TRAFFIC_DUP_SLOTS 1024u

/*
 * Accounts one parsed message seen at ts, with TRAFFIC_PKT_* flags.
 * Returns TRAFFIC_NOTE_* bits.
 *
 * Count once: a packet that is not foreign is remembered in a fixed table
 * of TRAFFIC_DUP_SLOTS recent packets, keyed by a hash of its addresses,
 * ports, transport, DNS id and flags, and IP length and ID (IPv6: payload
 * length and flow label). The same key seen on a *different* interface
 * (dns_packet.ifindex, both non-zero) within TRAFFIC_DUP_WINDOW_MS is the
 * same packet met again on a stacked device: it only counts in
 * `duplicates` and returns TRAFFIC_NOTE_DUPLICATE. A packet of unknown
 * interface (ifindex 0) is never a duplicate; a colliding newer packet
 * simply takes the slot (the cost is a rare double count, never a lost
 * query). With TRAFFIC_PKT_NO_COPIES none of this is done. No allocation
 * per packet.
 */
unsigned traffic_add(struct traffic *t, const struct dns_packet *p, const struct timespec *ts, unsigned flags);
/* Does the work traffic_add() deferred for prefetching (inserting the last
 * queries into the table of queries awaiting an answer), so that
 * traffic_totals() is current: for the end of a batch of packets. */
void traffic_flush(struct traffic *t);

/* Ends sampling once no query arrived for two rate windows by now (the
 * packets' clock, CLOCK_REALTIME): the rate is only measured as queries
 * come, so without this a flood that stopped would leave the last rate in
 * force, and traffic_sample_rate() saying so, until the next query. */
void traffic_idle(struct traffic *t, const struct timespec *now);

/* Changes sample_above (a reload); 0 stops sampling at once. */
void traffic_set_sample_above(struct traffic *t, unsigned rate);
/* Accounts one packet the parser refused (any reason but DNS_OK). */
void traffic_add_error(struct traffic *t, enum dns_error reason);

struct traffic_counters {
	uint64_t packets;               /* every packet handed in */
	uint64_t foreign;               /* TRAFFIC_PKT_FOREIGN: not accounted further */
	uint64_t duplicates;            /* copies of a packet counted on another interface */
	uint64_t queries;               /* QR=0 messages */
	uint64_t queries_tcp;
	uint64_t queries_edns;
	uint64_t responses;             /* QR=1 messages */
	uint64_t answered;              /* queries whose response came within the window */
	uint64_t unanswered;            /* expired or evicted without a response */
	uint64_t evicted;               /* of the unanswered: pushed out of a full table */
	uint64_t unmatched_responses;   /* responses to no query we saw (or too late) */
	uint64_t recursion_offered;     /* responses with RA=1 that are not REFUSED */
	uint64_t bad_records;           /* accounted messages with a malformed later record */
	uint64_t ignored;               /* not DNS: see by_reason for which */
	uint64_t sampled_out;           /* queries the top-K tables did not see (sampling) */
	uint64_t malformed;             /* sum of the malformed reasons */
	uint64_t by_reason[_DNS_ERR_MAX];
};

struct traffic_addr {
	uint8_t family;                 /* AF_INET or AF_INET6 */
	uint8_t prefix_len;             /* 32/128 for an address, else the network's */
	uint8_t addr[16];               /* masked to prefix_len */
};

/* "192.0.2.1", "2001:db8::1", "192.0.2.0/24", "2001:db8::/56". */
#define TRAFFIC_ADDR_TEXT_MAX 50
void traffic_addr_to_text(const struct traffic_addr *a, char *text);

struct traffic_source_row {
	struct traffic_addr addr;
	char addr_text[TRAFFIC_ADDR_TEXT_MAX];
	/* Space-saving estimate: the true count lies in [queries - overcount,
	 * queries]; overcount is 0 while the table has never been full. Under
	 * sampling (snapshot sample_rate > 1) see "Sampling" for the bound. */
	uint64_t queries, overcount;
	/* The following count from when the row entered the table (and stop
	 * at 2^32 - 1). */
	uint64_t tcp;
	uint64_t answered;
	/* A sample: the row's first query in the interval. Empty (qtype 0,
	 * qname "") in network rows. */
	uint16_t qtype;
	char qname[DNS_NAME_TEXT_MAX];  /* escaped like dig */
};

struct traffic_name_row {
	char qname[DNS_NAME_TEXT_MAX];  /* ASCII lowercased, escaped like dig */
	uint64_t queries, overcount;
};

struct traffic_qtype_row {
	uint16_t qtype;
	uint64_t queries;
};

/* The first response of an interval that offered recursion. */
struct traffic_recursion {
	struct timespec ts;
	uint8_t family;
	uint8_t querier[16], server[16];
	char querier_text[TRAFFIC_ADDR_TEXT_MAX], server_text[TRAFFIC_ADDR_TEXT_MAX];
	uint16_t querier_port, server_port;
	uint8_t proto;
	uint16_t qtype;
	uint8_t rcode;
	bool aa;
	char qname[DNS_NAME_TEXT_MAX];
};

/* One interval, built by traffic_rotate(). Lists hold at most report_rows
 * rows, largest first: by guaranteed count (queries - overcount), then by
 * queries. *_suppressed say how much was left out so a flood still gives a
 * bounded report. */
struct traffic_snapshot {
	struct timespec start, end;     /* first packet or previous rotation; now */
	struct traffic_counters c;      /* this interval only */
	uint64_t pending;               /* queries still waiting for an answer at end */
	/* 1: the top-K lists and distinct counts are exact as described
	 * above; N > 1: some queries of the interval were sampled 1 in N
	 * (the largest N applied), with the bounds of "Sampling". */
	uint32_t sample_rate;

	struct traffic_source_row *sources;
	size_t n_sources;
	uint64_t sources_distinct;      /* estimated distinct addresses (HyperLogLog, ~2%) */
	uint64_t sources_suppressed;    /* estimated addresses not in the list */
	uint64_t sources_queries_suppressed;    /* queries from them */

	/* The sources above folded into /24 and /56 networks. When the source
	 * table overflowed, queries of sources no longer tracked are missing
	 * from these rows (they are in networks_queries_suppressed). */
	struct traffic_source_row *networks;
	size_t n_networks;
	uint64_t networks_distinct;
	uint64_t networks_suppressed;
	uint64_t networks_queries_suppressed;

	struct traffic_name_row *qnames;
	size_t n_qnames;
	uint64_t qnames_distinct;
	uint64_t qnames_suppressed;
	uint64_t qnames_queries_suppressed;

	struct traffic_qtype_row *qtypes;
	size_t n_qtypes;
	uint64_t qtypes_suppressed;     /* distinct types not in the list */

	bool has_recursion;
	struct traffic_recursion recursion;
};

/* Closes the interval at now: queries older than the answer window become
 * unanswered, the snapshot is built, the interval tables are cleared and
 * the totals kept. The snapshot is owned by t and stays valid until the
 * next traffic_rotate() or traffic_free(). */
const struct traffic_snapshot *traffic_rotate(struct traffic *t, const struct timespec *now);

/* Everything since traffic_new(), intervals included up to now. */
void traffic_totals(const struct traffic *t, struct traffic_counters *ret);

/* The sampling rate in force now: 1 (exact) or N (1 query in N). */
uint32_t traffic_sample_rate(const struct traffic *t);

/* The recursion record of the current interval, or NULL before one. */
const struct traffic_recursion *traffic_recursion(const struct traffic *t);
