/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * port53guard replay FILE: the capture pipeline (dns parser, traffic
 * accounting) over a saved pcap or pcapng file, for checking what the agent
 * would have reported and for testing the parser against other tools.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "traffic.h"

/* The answer window traffic_options_init() sets, in seconds. */
#define TRAFFIC_WINDOW_S 5

enum replay_format {
	REPLAY_SUMMARY,
	REPLAY_JSONL,
};

struct replay {
	enum replay_format format;
	unsigned rows;
	bool sample;                    /* sample the top-K tables as the agent does */
	const char *path;
	pcap_t *pcap;
	int linktype;
	struct traffic *traffic;
	uint64_t packets, truncated_records;
	bool failed;                    /* printing a record failed: stop */
	struct timespec last_ts;
	struct dns_packet pkt;          /* ~1.5 KiB: kept off the stack of the loop */
};

static const struct cli_option replay_options[] = {
	{ { "format", required_argument, NULL, 'f' },
	  "  -f, --format FMT   summary (default) or jsonl: one JSON object per DNS message" },
	{ { "rows", required_argument, NULL, 'n' },
	  "  -n, --rows N       rows per list in the summary (1 to 1000, default 10)" },
	{ { "sample", no_argument, NULL, 's' },
	  "  -s, --sample       sample the top lists above 10000 queries/s of packet time, as the agent\n"
	  "                     does (default: every query is counted exactly)" },
};

static int replay_option(int key, const char *arg, void *userdata)
{
	struct replay *rp = userdata;
	unsigned long v;
	char *end;

	if (key == 's') {
		rp->sample = true;
		return 0;
	}
	if (key == 'f') {
		if (strcmp(arg, "summary") != 0 && strcmp(arg, "jsonl") != 0)
			return -1;
		rp->format = arg[0] == 'j' ? REPLAY_JSONL : REPLAY_SUMMARY;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end != '\0' || v == 0 || v > TRAFFIC_ROWS_MAX)
		return -1;
	rp->rows = (unsigned)v;
	return 0;
}

static int parse_args(struct cli_ctx *ctx, int argc, char **argv, struct replay *rp)
{
	int r = cli_parse(ctx, cli_find("replay"), argc, argv, replay_options, 3, replay_option, rp, 1, 1);

	if (r >= 0)
		return r;
	rp->path = argv[optind];
	return -1;
}

/* ---- jsonl ---------------------------------------------------------- */

static json_t *flags_json(const struct dns_header *h)
{
	static const struct { uint16_t bit; const char *name; } names[] = {
		{ DNS_FLAG_QR, "qr" }, { DNS_FLAG_AA, "aa" }, { DNS_FLAG_TC, "tc" },
		{ DNS_FLAG_RD, "rd" }, { DNS_FLAG_RA, "ra" }, { DNS_FLAG_AD, "ad" },
		{ DNS_FLAG_CD, "cd" },
	};
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(names) / sizeof(names[0]); i++)
		if (h->flags & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

static void ts_to_text(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	time_t t = ts->tv_sec;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "%lld", (long long)ts->tv_sec);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
}

static json_t *question_json(const struct dns_packet *p, json_t *o)
{
	char qname[DNS_NAME_TEXT_MAX];
	size_t n;

	if (!o)
		return NULL;
	if (!p->has_question) {
		json_object_set_new(o, "qname", json_null());
		json_object_set_new(o, "qtype", json_null());
		json_object_set_new(o, "qclass", json_null());
		return o;
	}
	n = dns_name_to_text(p->qname.wire, p->qname.wire_len, qname);
	json_object_set_new(o, "qname", json_stringn(qname, n));
	json_object_set_new(o, "qtype", json_integer(p->qtype));
	json_object_set_new(o, "qclass", json_integer(p->qclass));
	return o;
}

static json_t *packet_json(const struct dns_packet *p, const struct timespec *ts)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], when[64];
	int af = p->family == AF_INET6 ? AF_INET6 : AF_INET;

	inet_ntop(af, p->src, src, sizeof(src));
	inet_ntop(af, p->dst, dst, sizeof(dst));
	ts_to_text(ts, when, sizeof(when));
	return question_json(p, json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:b, s:i, s:o, s:i, s:b}",
		"ts", when,
		"src", src, "sport", (int)p->sport,
		"dst", dst, "dport", (int)p->dport,
		"proto", p->proto == 6 ? "tcp" : "udp",
		"id", (int)p->hdr.id,
		"qr", (int)p->hdr.qr,
		"opcode", (int)p->hdr.opcode,
		"flags", flags_json(&p->hdr),
		"rcode", (int)p->hdr.rcode,
		"edns", (int)p->edns));
}

static int print_jsonl(const struct dns_packet *p, const struct timespec *ts)
{
	json_t *o = packet_json(p, ts);
	char *line;

	if (!o)
		return -ENOMEM;
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		return -ENOMEM;
	fputs(line, stdout);
	fputc('\n', stdout);
	free(line);
	return 0;
}

/* ---- summary -------------------------------------------------------- */

static const char *type_name(uint16_t qtype, char *buf, size_t size)
{
	const char *n = dns_type_to_string(qtype);

	if (n)
		return n;
	snprintf(buf, size, "TYPE%u", qtype);
	return buf;
}

static void print_reasons(const struct traffic_counters *c, bool malformed)
{
	bool any = false;

	for (int e = 1; e < _DNS_ERR_MAX; e++) {
		if (c->by_reason[e] == 0 || dns_error_is_malformed(e) != malformed)
			continue;
		printf("%s %s %" PRIu64, any ? "," : "", dns_error_to_string(e), c->by_reason[e]);
		any = true;
	}
	printf("%s\n", any ? "" : " none");
}

static void print_sources(const char *title, const struct traffic_source_row *rows, size_t n,
			  uint64_t distinct, uint64_t suppressed, uint64_t queries_suppressed)
{
	/* Network rows carry no sample query. */
	bool samples = n > 0 && rows[0].qname[0];
	char tb[16];

	printf("\n%s (%" PRIu64 " distinct):\n", title, distinct);
	printf("  %10s %8s %9s  %s\n", "queries", "tcp", "answered",
	       samples ? "source                       first query" : "source");
	for (size_t i = 0; i < n; i++) {
		printf("  %10" PRIu64 " %8" PRIu64 " %9" PRIu64 "  ", rows[i].queries, rows[i].tcp,
		       rows[i].answered);
		if (samples)
			printf("%-28s %s %s\n", rows[i].addr_text, type_name(rows[i].qtype, tb, sizeof(tb)),
			       rows[i].qname);
		else
			printf("%s\n", rows[i].addr_text);
	}
	if (suppressed)
		printf("  %10" PRIu64 " queries from %" PRIu64 " more not listed\n", queries_suppressed, suppressed);
}

static void print_names_and_types(const struct traffic_snapshot *s)
{
	char tb[16];

	printf("\ntop query names (%" PRIu64 " distinct):\n", s->qnames_distinct);
	for (size_t i = 0; i < s->n_qnames; i++)
		printf("  %10" PRIu64 "  %s\n", s->qnames[i].queries, s->qnames[i].qname);
	if (s->qnames_suppressed)
		printf("  %10" PRIu64 "  queries for %" PRIu64 " more names\n", s->qnames_queries_suppressed,
		       s->qnames_suppressed);
	printf("\nquery types:\n");
	for (size_t i = 0; i < s->n_qtypes; i++)
		printf("  %10" PRIu64 "  %s\n", s->qtypes[i].queries, type_name(s->qtypes[i].qtype, tb, sizeof(tb)));
	if (s->qtypes_suppressed)
		printf("  %10s  %" PRIu64 " more types\n", "", s->qtypes_suppressed);
}

static void print_recursion(const struct traffic_snapshot *s)
{
	const struct traffic_recursion *r = &s->recursion;
	char tb[16];

	printf("recursion offered: %" PRIu64 " responses with RA set", s->c.recursion_offered);
	if (s->has_recursion)
		printf("; first: %s answered %s port %u %s %s %s%s", r->server_text, r->querier_text,
		       r->querier_port, type_name(r->qtype, tb, sizeof(tb)), r->qname,
		       dns_rcode_to_string(r->rcode) ? dns_rcode_to_string(r->rcode) : "rcode", r->aa ? " aa" : "");
	printf("\n");
}

static void print_summary(const struct replay *rp, const struct traffic_snapshot *s)
{
	const struct traffic_counters *c = &s->c;
	const char *lt = pcap_datalink_val_to_name(rp->linktype);

	printf("file: %s (link type %s, %" PRIu64 " packets", rp->path, lt ? lt : "?", rp->packets);
	if (rp->truncated_records)
		printf(", last record truncated");
	printf(")\n");
	printf("dns messages: %" PRIu64 " queries (%" PRIu64 " tcp, %" PRIu64 " edns), %" PRIu64
	       " responses\n", c->queries, c->queries_tcp, c->queries_edns, c->responses);
	printf("answers: %" PRIu64 " answered, %" PRIu64 " unanswered, %" PRIu64 " responses without a query\n",
	       c->answered, c->unanswered, c->unmatched_responses);
	print_recursion(s);
	printf("malformed: %" PRIu64 ";", c->malformed);
	print_reasons(c, true);
	printf("not dns: %" PRIu64 ";", c->ignored);
	print_reasons(c, false);
	if (c->duplicates)
		printf("copies on another interface (stacked devices), counted once: %" PRIu64 "\n", c->duplicates);
	if (c->bad_records)
		printf("messages with a malformed record after the question: %" PRIu64 "\n", c->bad_records);
	if (s->sample_rate > 1)
		printf("sampled: the top lists counted 1 query in up to %" PRIu32 " above %u queries/s "
		       "(%" PRIu64 " queries left out of them, scaled); the totals above are exact\n",
		       s->sample_rate, TRAFFIC_SAMPLE_ABOVE_DEFAULT, c->sampled_out);
	print_sources("top sources", s->sources, s->n_sources, s->sources_distinct, s->sources_suppressed,
		      s->sources_queries_suppressed);
	print_sources("top networks", s->networks, s->n_networks, s->networks_distinct,
		      s->networks_suppressed, s->networks_queries_suppressed);
	print_names_and_types(s);
}

/* ---- the loop ------------------------------------------------------- */

static int replay_packet(struct replay *rp, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct timespec ts = { .tv_sec = h->ts.tv_sec, .tv_nsec = (long)h->ts.tv_usec * 1000 };
	enum dns_error e;

	rp->packets++;
	rp->last_ts = ts;
	/* The summary never prints a packet's name; jsonl renders its own. */
	e = dns_parse_packet_notext(rp->linktype, data, h->caplen, &rp->pkt);
	if (e != DNS_OK) {
		traffic_add_error(rp->traffic, e);
		return 0;
	}
	traffic_add(rp->traffic, &rp->pkt, &ts, 0);
	if (rp->format == REPLAY_JSONL)
		return print_jsonl(&rp->pkt, &ts);
	return 0;
}

/* pcap_next_ex says PCAP_ERROR with "truncated dump file" (pcap) or
 * "truncated pcapng dump file" when the file stops inside a record: a
 * capture cut short by a crash or a full disk. That last record is counted,
 * the rest of the file is still good. */
static void on_record(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct replay *rp = (struct replay *)user;

	if (replay_packet(rp, h, data) < 0) {
		rp->failed = true;
		pcap_breakloop(rp->pcap);
	}
}

/* pcap_dispatch() rather than pcap_next_ex(): one call reads the whole file
 * (a callback per record, no return to this loop per packet). It returns
 * 0 at the end of the file. */
static int replay_loop(struct replay *rp)
{
	int r;

	do
		r = pcap_dispatch(rp->pcap, -1, on_record, (u_char *)rp);
	while (r > 0);
	if (rp->failed) {
		fprintf(stderr, "port53guard replay: out of memory\n");
		return -ENOMEM;
	}
	if (r == 0)
		return 0;
	if (strstr(pcap_geterr(rp->pcap), "truncated")) {
		rp->truncated_records++;
		fprintf(stderr, "port53guard replay: %s: %s (counted, not fatal)\n", rp->path, pcap_geterr(rp->pcap));
		return 0;
	}
	fprintf(stderr, "port53guard replay: %s: %s\n", rp->path, pcap_geterr(rp->pcap));
	return -EIO;
}

/* libpcap reads through stdio, twice per packet: a large buffer saves a
 * read() per 4 KiB, and as the stream is ours alone it needs no locking. */
#define READ_BUFFER (256u << 10)

static pcap_t *open_capture(const char *path)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	FILE *f = fopen(path, "rb");
	pcap_t *p;

	if (!f) {
		fprintf(stderr, "port53guard replay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	(void)setvbuf(f, NULL, _IOFBF, READ_BUFFER);
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	p = pcap_fopen_offline(f, err);
	if (!p) {
		fclose(f);      /* pcap_close() owns it only on success */
		fprintf(stderr, "port53guard replay: %s: %s\n", path, err);
	}
	return p;
}

static int replay_open(struct replay *rp)
{
	struct traffic_options o;
	int r;

	rp->pcap = open_capture(rp->path);
	if (!rp->pcap)
		return -EIO;
	rp->linktype = pcap_datalink(rp->pcap);
	traffic_options_init(&o);
	o.report_rows = rp->rows;
	o.sample_above = rp->sample ? TRAFFIC_SAMPLE_ABOVE_DEFAULT : 0;
	r = traffic_new(&o, &rp->traffic);
	if (r < 0)
		fprintf(stderr, "port53guard replay: %s\n", strerror(-r));
	return r;
}

/* Closes the replay as one interval that ends after the last packet's
 * answer window, so every query left without a response is unanswered. */
static const struct traffic_snapshot *replay_finish(struct replay *rp)
{
	struct timespec end = rp->last_ts;

	end.tv_sec += TRAFFIC_WINDOW_S + 1;
	return traffic_rotate(rp->traffic, &end);
}

int cmd_replay(struct cli_ctx *ctx, int argc, char **argv)
{
	struct replay *rp;
	const struct traffic_snapshot *snap;
	int r;

	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return EXIT_ERROR;
	rp->rows = 10;
	r = parse_args(ctx, argc, argv, rp);
	if (r >= 0)
		goto out;
	r = EXIT_ERROR;
	if (replay_open(rp) < 0 || replay_loop(rp) < 0)
		goto out;
	snap = replay_finish(rp);
	if (rp->format == REPLAY_SUMMARY)
		print_summary(rp, snap);
	r = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
out:
	if (rp->pcap)
		pcap_close(rp->pcap);
	traffic_free(rp->traffic);
	free(rp);
	return r;
}
