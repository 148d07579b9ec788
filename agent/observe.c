/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "capture.h"
#include "daemon.h"
#include "dns.h"
#include "links.h"
#include "listeners.h"
#include "report.h"
#include "scanhelper.h"
#include "ruleset.h"
#include "traffic.h"

/* Ring blocks read per wake-up: bounds the time one busy handle holds the
 * loop, so signals, drift repair and the watchdog stay prompt in a flood. */
#define CAPTURE_BLOCKS_PER_WAKEUP 8
/* dns_queries lines per summary: the rest is one line with suppressed=N. */
#define SOURCES_PER_SUMMARY 10
/* The scan runs in the helper; the loop waits this long at most, well
 * inside the watchdog period. */
#define SCAN_TIMEOUT_MS 10000

/* ---- capture ---- */

static void capture_epoll(struct daemon *d, int op)
{
	for (size_t i = 0; d->capture && i < capture_n_handles(d->capture); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = capture_fd(d->capture, i) };

		if (ev.data.fd >= 0)
			(void)epoll_ctl(d->epfd, op, ev.data.fd, &ev);
	}
}

/* d->capture_missing: the interfaces not captured, comma-separated. */
static void note_missing(struct daemon *d)
{
	size_t used = 0, n = d->capture ? capture_n_missing(d->capture) : 0;

	d->capture_missing[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(d->capture_missing + used, sizeof(d->capture_missing) - used, "%s%s",
				 i ? "," : "", capture_missing_ifname(d->capture, i));

		if (w < 0 || (size_t)w >= sizeof(d->capture_missing) - used)
			break;
		used += (size_t)w;
	}
	d->capture_degraded = !d->capture || n > 0;
	if (n)
		snprintf(d->capture_error, sizeof(d->capture_error), "%s", capture_missing_error(d->capture, 0));
	else if (d->capture)
		d->capture_error[0] = '\0';
}

static void log_started(const struct daemon *d, size_t i)
{
	log_info("capture_started", LOG_STR("interface", capture_ifname(d->capture, i)),
		 LOG_UINT("handles", capture_n_handles(d->capture)),
		 LOG_STR("filter", capture_filter(d->capture, i)),
		 LOG_STR("kernel_filter", capture_filter_in_kernel(d->capture, i) ? "yes" : "no"),
		 LOG_UINT("buffer_bytes", d->config->capture_buffer_size));
}

/* One event per interface that is not captured: the others are. */
static void log_missing(const struct daemon *d, size_t from)
{
	for (size_t i = from; i < capture_n_missing(d->capture); i++)
		log_warning("capture_degraded", LOG_STR("interface", capture_missing_ifname(d->capture, i)),
			    LOG_STR("error", capture_missing_error(d->capture, i)),
			    LOG_STR("effect", "no traffic reports from this interface; the others are captured, "
				    "it is tried again at each rescan; enforcement goes on"));
}

/* A capture without a single open handle is not running: say so (status,
 * metrics) and keep only the names, for reopen_capture(). */
static void drop_if_empty(struct daemon *d)
{
	if (!d->capture || capture_n_handles(d->capture) > 0)
		return;
	note_missing(d);
	capture_free(d->capture);
	d->capture = NULL;
	d->capture_degraded = true;
}

/* The capture as the configuration asks for it; partial: a missing
 * interface among several degrades only itself. */
static struct capture_options capture_options_of(const struct config *c)
{
	return (struct capture_options){
		.interfaces = (const char *const *)c->capture_interfaces,
		.n_interfaces = c->n_capture_interfaces,
		.buffer_size = c->capture_buffer_size,
		.responses = c->capture_responses,
		.partial = true,
	};
}

static void open_capture(struct daemon *d)
{
	struct capture_options o = capture_options_of(d->config);
	char err[CAPTURE_ERRBUF_SIZE] = "";
	int r;

	r = capture_open(&o, &d->capture, err, sizeof(err));
	if (r < 0) {
		d->capture = NULL;
		d->capture_degraded = true;
		d->capture_missing[0] = '\0';
		snprintf(d->capture_error, sizeof(d->capture_error), "%s", err[0] ? err : strerror(-r));
		log_warning("capture_degraded", LOG_STR("error", d->capture_error),
			    LOG_STR("effect", "no traffic reports; enforcement goes on"));
		return;
	}
	d->capture_drops_reported = 0;
	note_missing(d);
	capture_epoll(d, EPOLL_CTL_ADD);
	for (size_t i = 0; i < capture_n_handles(d->capture); i++)
		log_started(d, i);
	log_missing(d, 0);
	drop_if_empty(d);
}

/* Every configured interface is missing: the capture is not running (no
 * handle is open), and the next rescans open it anew. */
static void reopen_capture(struct daemon *d)
{
	struct capture_options o = capture_options_of(d->config);
	char err[CAPTURE_ERRBUF_SIZE] = "";
	struct capture *cap;

	/* Each missing interface was logged once already. */
	if (capture_open(&o, &cap, err, sizeof(err)) < 0)
		return;
	if (capture_n_handles(cap) == 0) {
		capture_free(cap);
		return;
	}
	d->capture = cap;
	note_missing(d);
	capture_epoll(d, EPOLL_CTL_ADD);
	for (size_t i = 0; i < capture_n_handles(d->capture); i++)
		log_started(d, i);
}

/* A configured interface that appeared since is captured from now on. */
static void retry_capture(struct daemon *d)
{
	char err[CAPTURE_ERRBUF_SIZE] = "";
	size_t before;
	int r;

	if (!d->capture && d->traffic && d->capture_missing[0]) {
		reopen_capture(d);
		return;
	}
	if (!d->capture || capture_n_missing(d->capture) == 0)
		return;
	before = capture_n_handles(d->capture);
	r = capture_retry(d->capture, err, sizeof(err));
	for (size_t i = before; i < capture_n_handles(d->capture); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = capture_fd(d->capture, i) };

		(void)epoll_ctl(d->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
		log_started(d, i);
	}
	if (r < 0)
		log_warning("capture_degraded", LOG_STR("error", err),
			    LOG_STR("effect", "missing interfaces stay missing; enforcement goes on"));
	note_missing(d);
}

static void close_capture(struct daemon *d)
{
	capture_epoll(d, EPOLL_CTL_DEL);
	capture_free(d->capture);
	d->capture = NULL;
}

/* On the per-packet path: the allowlist as the ruleset merged it, searched
 * in O(log n) rather than walking every configured CIDR. */
static bool allowlisted_addr(const struct daemon *d, int family, const uint8_t *addr)
{
	enum ruleset_set_id id = family == AF_INET ? RULESET_SET_ALLOW4 : RULESET_SET_ALLOW6;

	return d->ruleset && ruleset_set_contains(&d->ruleset->sets[id], addr);
}

static bool allowlisted(const struct daemon *d, const struct dns_packet *p)
{
	return allowlisted_addr(d, p->family, p->src);
}

static void packet_source_text(const struct dns_packet *p, char *buf, size_t len)
{
	if (!inet_ntop(p->family, p->src, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void on_query(struct daemon *d, struct dns_packet *p)
{
	char src[INET6_ADDRSTRLEN], trigger[160];

	if (allowlisted(d, p)) {
		d->queries_allowed++;
		return;
	}
	if (d->config->mode != AGENT_MODE_AUTO || d->enforcing || d->enforce_trigger[0])
		return;
	packet_source_text(p, src, sizeof(src));
	snprintf(trigger, sizeof(trigger), "query from %s", src);
	log_notice("inbound_query", LOG_STR("src", src), LOG_UINT("sport", p->sport),
		   LOG_STR("proto", p->proto == IPPROTO_TCP ? "tcp" : "udp"),
		   LOG_STR("qname", p->has_question ? dns_name_text(&p->qname) : ""),
		   LOG_STR("qtype", dns_type_to_string(p->qtype)));
	enforce_start(d, "inbound query from a source that is not allowlisted", trigger);
}

static void log_recursion(const struct daemon *d, const struct traffic_recursion *r)
{
	bool allowed = allowlisted_addr(d, r->family, r->querier);

	log_warning("recursion_offered", LOG_STR("querier", r->querier_text), LOG_UINT("querier_port", r->querier_port),
		    LOG_STR("server", r->server_text), LOG_STR("qname", r->qname),
		    LOG_STR("qtype", dns_type_to_string(r->qtype)), LOG_BOOL("allowlisted", allowed),
		    LOG_STR("meaning", allowed ? "this host answers recursive queries for an allowlisted client"
			    : "this host answers recursive queries for others"));
}

/* The recursion_offered finding: a recursive answer (RA=1, not REFUSED)
 * from this host to a client the operator did not allowlist; an allowlisted
 * one is let in on purpose, as a cloud policy's VPC accept is. Only for
 * responses, and with the packet's own time: no clock read per packet. */
static void note_recursion(struct daemon *d, const struct dns_packet *p, const struct timespec *ts)
{
	if (!p->hdr.qr || !p->hdr.ra || p->hdr.opcode != 0 || p->hdr.rcode == DNS_RCODE_REFUSED)
		return;
	if (!allowlisted_addr(d, p->family, p->dst))
		d->recursion_offered_last = ts->tv_sec;
}

/* What on_packet() needs per dispatch, worked out once per wake-up, and
 * the last answers of the interface table: a flood comes on one interface
 * to one address, and the table cannot change within one dispatch (link
 * and address events are read between wake-ups). */
struct dispatch {
	struct daemon *d;
	unsigned flags;                 /* TRAFFIC_PKT_* every packet of the handle gets */
	bool if_known, if_internal;
	uint32_t ifindex;
	bool addr_known, addr_local;
	int family;
	uint8_t addr[16];
};

/* The kernel rule's definition of "ours": links_internal() answers as
 * [rules] internal_interfaces selects (enforce.c configures it), the same
 * selection that fills the set "internal", in O(1) per packet. ctx is the
 * (mutable) struct dispatch. */
static bool host_internal(const void *ctx, uint32_t ifindex)
{
	struct dispatch *x = (struct dispatch *)(uintptr_t)ctx;

	if (!x->if_known || x->ifindex != ifindex) {
		x->if_internal = links_internal(x->d->links, ifindex);
		x->ifindex = ifindex;
		x->if_known = true;
	}
	return x->if_internal;
}

/* addr holds 16 bytes (an IPv4 address zero-padded), as the parser fills it. */
static bool host_local_addr(const void *ctx, int family, const uint8_t *addr)
{
	struct dispatch *x = (struct dispatch *)(uintptr_t)ctx;

	if (!x->addr_known || x->family != family || memcmp(x->addr, addr, 16) != 0) {
		x->addr_local = links_local_addr(x->d->links, family, addr);
		x->family = family;
		memcpy(x->addr, addr, 16);
		x->addr_known = true;
	}
	return x->addr_local;
}

static void on_packet(const struct capture_packet *pkt, void *userdata)
{
	struct dispatch *x = userdata;
	struct daemon *d = x->d;
	const struct traffic_host host = { .internal = host_internal, .local_addr = host_local_addr, .ctx = x };
	struct dns_packet p;
	enum dns_error e;
	unsigned flags, notes;

	/* The name's text is rendered only for the one event that prints it. */
	e = dns_parse_packet_notext(pkt->linktype, pkt->data, pkt->caplen, &p);
	if (e != DNS_OK) {
		traffic_add_error(d->traffic, e);
		return;
	}
	if (p.ifindex == 0 && pkt->ifindex <= INT32_MAX)
		p.ifindex = (int32_t)pkt->ifindex;
	/* Without an interface table every packet counts, as before one. */
	flags = traffic_classify(d->links ? &host : NULL, &p) | x->flags;
	notes = traffic_add(d->traffic, &p, &pkt->ts, flags);
	if ((flags & TRAFFIC_PKT_FOREIGN) || (notes & TRAFFIC_NOTE_DUPLICATE))
		return;
	if (!p.hdr.qr && p.dport == DNS_PORT) {
		d->queries_seen++;
		on_query(d, &p);
	}
	note_recursion(d, &p, &pkt->ts);
	if ((notes & TRAFFIC_NOTE_RECURSION_OFFERED) && traffic_recursion(d->traffic))
		log_recursion(d, traffic_recursion(d->traffic));
	if (notes & TRAFFIC_NOTE_SAMPLING)
		log_notice("capture_sampling", LOG_UINT("sample_rate", traffic_sample_rate(d->traffic)),
			   LOG_UINT("above_queries_per_s", d->config->capture_sample_above),
			   LOG_STR("meaning", "top sources, networks and names count 1 query in sample_rate, "
				   "scaled; totals, query types and answered/unanswered stay exact"));
}

void observe_on_fd(struct daemon *d, int fd)
{
	char err[CAPTURE_ERRBUF_SIZE] = "";
	int r;

	for (size_t i = 0; d->capture && i < capture_n_handles(d->capture); i++) {
		struct dispatch x = { .d = d };

		if (capture_fd(d->capture, i) != fd)
			continue;
		/* Copies of one packet only meet across stacked devices: on
		 * "any", or on several named interfaces (a VLAN and its lower
		 * device, bond slaves). One named interface shows each once. */
		if (capture_n_handles(d->capture) == 1 && strcmp(capture_ifname(d->capture, i), "any") != 0)
			x.flags |= TRAFFIC_PKT_NO_COPIES;
		r = capture_dispatch(d->capture, i, CAPTURE_BLOCKS_PER_WAKEUP, on_packet, &x, err, sizeof(err));
		/* The totals the status reads are current after each wake-up. */
		if (d->traffic)
			traffic_flush(d->traffic);
		if (r >= 0)
			return;
		log_warning("capture_degraded", LOG_STR("interface", capture_ifname(d->capture, i)),
			    LOG_STR("error", err),
			    LOG_STR("effect", d->config->n_capture_interfaces
				    ? "capture on this interface stopped, tried again at each rescan; enforcement goes on"
				    : "capture stopped; enforcement goes on"));
		(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (d->config->n_capture_interfaces && capture_close_handle(d->capture, i, err) == 0) {
			note_missing(d);
			drop_if_empty(d);
			return;
		}
		snprintf(d->capture_error, sizeof(d->capture_error), "%s", err);
		close_capture(d);
		d->capture_degraded = true;
		return;
	}
}

/* ---- listeners ---- */

static const char *netns_label(const struct listener *l, char *buf, size_t len)
{
	if (!l->netns || l->netns->self)
		return "host";
	if (l->netns->name)
		return l->netns->name;
	snprintf(buf, len, "net:[%llu]", (unsigned long long)l->netns->inode);
	return buf;
}

static const char *exposure_text(const struct listener *l)
{
	if (l->netns && !l->netns->self)
		return "namespace";
	return listener_exposure_to_string(l->exposure);
}

static void log_listener(const char *event, const struct listener *l)
{
	char addr[INET6_ADDRSTRLEN], ns[40];
	enum log_level level = LOG_LEVEL_INFO;

	if (l->exposure == LISTENER_PUBLIC && (!l->netns || l->netns->self) && strcmp(event, "listener_found") == 0)
		level = LOG_LEVEL_WARNING;
	if (strcmp(event, "listener_unfiltered") == 0)
		level = LOG_LEVEL_WARNING;
	log_event(level, event, LOG_STR("proto", listener_proto_to_string(l->proto)),
		  LOG_STR("addr", listener_addr_to_string(l, addr, sizeof(addr))), LOG_UINT("port", l->port),
		  LOG_STR("exposure", exposure_text(l)), LOG_STR("via", l->via),
		  LOG_INT("pid", l->owner.status == PROCMAP_FOUND ? l->owner.pid : 0),
		  LOG_STR("comm", l->owner.comm ? l->owner.comm
			  : l->owner.status == PROCMAP_DENIED ? "unknown (permission)" : "unknown"),
		  LOG_STR("exe", l->owner.exe), LOG_STR("unit", l->owner.unit),
		  LOG_STR("container", l->owner.container), LOG_STR("netns", netns_label(l, ns, sizeof(ns))),
		  LOG_INT("v6only", l->v6only), LOG_UINT("inode", l->inode), LOG_UINT("uid", l->uid));
}

struct diff_ctx {
	struct daemon *d;
	const struct listener *first_public;
};

static void on_added(const struct listener *l, void *userdata)
{
	struct diff_ctx *x = userdata;

	log_listener("listener_found", l);
	/* Public in a namespace with a link of its own: the table in the
	 * host's namespace never sees its traffic. */
	if (l->unfiltered)
		log_listener("listener_unfiltered", l);
	if (!x->first_public && l->exposure == LISTENER_PUBLIC && (!l->netns || l->netns->self))
		x->first_public = l;
}

static void on_removed(const struct listener *l, void *userdata)
{
	(void)userdata;
	log_listener("listener_gone", l);
}

static void count_listeners(struct daemon *d)
{
	d->listeners_public = d->listeners_local = d->listeners_bridge = d->listeners_namespaced = 0;
	d->listeners_unfiltered = 0;
	for (size_t i = 0; d->listeners && i < d->listeners->n; i++) {
		const struct listener *l = &d->listeners->items[i];

		d->listeners_unfiltered += l->unfiltered;
		if (l->netns && !l->netns->self)
			d->listeners_namespaced++;
		else if (l->exposure == LISTENER_PUBLIC)
			d->listeners_public++;
		else if (l->exposure == LISTENER_BRIDGE)
			d->listeners_bridge++;
		else
			d->listeners_local++;
	}
}

static void rescan(struct daemon *d)
{
	struct listeners_opts o = LISTENERS_OPTS_DEFAULT;
	struct diff_ctx x = { .d = d };
	struct listener_set *s;
	char addr[INET6_ADDRSTRLEN], trigger[160];
	int r;

	o.namespaces = d->config->namespaces;
	d->next_rescan_ms = d->now_ms + d->config->rescan_interval * 1000ull;
	retry_capture(d);
	r = scanhelper_scan(d->scanhelper, &o, SCAN_TIMEOUT_MS, &s);
	if (r < 0) {
		log_warning("listener_scan_failed", LOG_STR("error", scanhelper_strerror(r)));
		return;
	}
	d->listeners_scanned_at = time(NULL);
	if (s->owners_denied && !(d->listeners && d->listeners->owners_denied))
		log_warning("listener_owner_unknown", LOG_STR("reason", "cannot read other processes' file descriptors"),
			    LOG_STR("needs", "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"));
	listeners_diff(d->listeners, s, on_added, on_removed, &x);
	if (x.first_public && d->config->mode == AGENT_MODE_AUTO && !d->enforce_trigger[0]) {
		snprintf(trigger, sizeof(trigger), "%s %s:%u pid %d",
			 listener_proto_to_string(x.first_public->proto),
			 listener_addr_to_string(x.first_public, addr, sizeof(addr)), x.first_public->port,
			 x.first_public->owner.status == PROCMAP_FOUND ? (int)x.first_public->owner.pid : 0);
		enforce_start(d, "public listener on port 53", trigger);
	}
	listener_set_free(d->listeners);
	d->listeners = s;
	count_listeners(d);
}

/* ---- the daemon's hooks ---- */

void observe_open(struct daemon *d)
{
	struct traffic_options o;
	int r;

	traffic_options_init(&o);
	o.responses = d->config->capture_responses;
	o.report_rows = SOURCES_PER_SUMMARY;
	o.sample_above = d->config->capture_sample_above;
	r = traffic_new(&o, &d->traffic);
	if (r < 0) {
		d->traffic = NULL;
		d->capture_degraded = true;
		snprintf(d->capture_error, sizeof(d->capture_error), "traffic tables: %s", strerror(-r));
		log_warning("capture_degraded", LOG_STR("error", d->capture_error));
		return;
	}
	open_capture(d);
}

void observe_initial(struct daemon *d)
{
	rescan(d);
}

void observe_reconfigure(struct daemon *d)
{
	if (!d->traffic)
		return;
	traffic_set_sample_above(d->traffic, d->config->capture_sample_above);
	close_capture(d);
	open_capture(d);
	d->next_rescan_ms = 0;
}

void observe_close(struct daemon *d)
{
	close_capture(d);
	traffic_free(d->traffic);
	d->traffic = NULL;
	listener_set_free(d->listeners);
	d->listeners = NULL;
}

void observe_update_counters(struct daemon *d)
{
	struct traffic_counters tc;
	struct capture_stats cs;

	if (d->traffic) {
		traffic_totals(d->traffic, &tc);
		d->queries_answered = tc.answered;
		d->queries_unanswered = tc.unanswered;
	}
	if (d->capture && capture_stats(d->capture, &cs) == 0) {
		d->capture_received = cs.received;
		d->capture_drops = cs.dropped;
		d->capture_ifdrops = cs.ifdropped;
	}
}

void observe_tick(struct daemon *d)
{
	struct timespec now;

	if (d->now_ms >= d->next_rescan_ms)
		rescan(d);
	/* After a flood, the status and metrics say sampling ended. */
	if (d->traffic && clock_gettime(CLOCK_REALTIME, &now) == 0)
		traffic_idle(d->traffic, &now);
}

static void log_sources(struct daemon *d, const struct traffic_snapshot *s)
{
	d->n_top_sources = 0;
	for (size_t i = 0; i < s->n_sources; i++) {
		const struct traffic_source_row *r = &s->sources[i];

		log_info("dns_queries", LOG_STR("src", r->addr_text), LOG_UINT("queries", r->queries),
			 LOG_UINT("tcp", r->tcp), LOG_UINT("answered", r->answered),
			 LOG_STR("qtype", dns_type_to_string(r->qtype)), LOG_STR("qname", r->qname),
			 LOG_UINT("overcount", r->overcount), LOG_UINT("sample_rate", s->sample_rate),
			 LOG_UINT("interval_s", d->config->summary_interval));
		if (d->n_top_sources < sizeof(d->top_sources) / sizeof(d->top_sources[0])) {
			snprintf(d->top_sources[d->n_top_sources].source, sizeof(d->top_sources[0].source), "%s",
				 r->addr_text);
			d->top_sources[d->n_top_sources++].queries = r->queries;
		}
	}
	d->sources_suppressed = s->sources_suppressed;
	if (s->sources_suppressed)
		log_info("dns_queries", LOG_STR("src", "other"), LOG_UINT("queries", s->sources_queries_suppressed),
			 LOG_UINT("suppressed", s->sources_suppressed),
			 LOG_UINT("sources_distinct", s->sources_distinct), LOG_UINT("sample_rate", s->sample_rate),
			 LOG_UINT("interval_s", d->config->summary_interval));
}

void observe_summary(struct daemon *d)
{
	struct timespec now;
	const struct traffic_snapshot *s;

	observe_update_counters(d);
	if (d->capture_drops > d->capture_drops_reported) {
		log_warning("capture_drops", LOG_UINT("dropped", d->capture_drops - d->capture_drops_reported),
			    LOG_UINT("dropped_total", d->capture_drops), LOG_UINT("received_total", d->capture_received),
			    LOG_STR("hint", "raise [capture] buffer_size"));
		d->capture_drops_reported = d->capture_drops;
	}
	if (!d->traffic)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	s = traffic_rotate(d->traffic, &now);
	log_sources(d, s);
	if (s->c.malformed)
		log_info("dns_malformed", LOG_UINT("packets", s->c.malformed),
			 LOG_UINT("interval_s", d->config->summary_interval));
}

/* ---- status ---- */

void observe_status_json(const struct daemon *d, json_t *root)
{
	json_t *ls = json_array(), *ts = json_array();

	for (size_t i = 0; d->listeners && ls && i < d->listeners->n; i++)
		json_array_append_new(ls, report_listener_json(&d->listeners->items[i]));
	for (size_t i = 0; ts && i < d->n_top_sources; i++)
		json_array_append_new(ts, json_pack("{s:s, s:I}", "source", d->top_sources[i].source, "queries",
						    (json_int_t)d->top_sources[i].queries));
	json_object_set_new(root, "listeners", ls);
	json_object_set_new(root, "top_sources", ts);
	/* allowlisted + not_allowlisted == seen; answered and unanswered are
	 * outcomes, known later, of the same queries. */
	json_object_set_new(root, "queries", json_pack("{s:I, s:I, s:I, s:I, s:I}",
		"seen", (json_int_t)d->queries_seen, "allowlisted", (json_int_t)d->queries_allowed,
		"not_allowlisted", (json_int_t)(d->queries_seen - d->queries_allowed),
		"answered", (json_int_t)d->queries_answered, "unanswered", (json_int_t)d->queries_unanswered));
	json_object_set_new(root, "capture", json_pack("{s:s, s:b, s:o, s:o, s:I, s:I, s:I, s:I}",
		"state", d->capture ? (d->capture_missing[0] ? "partial" : "running") : "degraded",
		"degraded", d->capture_degraded || d->capture_missing[0],
		"error", report_json_text(d->capture_error), "missing", report_json_text(d->capture_missing),
		"received", (json_int_t)d->capture_received, "dropped", (json_int_t)d->capture_drops,
		"if_dropped", (json_int_t)d->capture_ifdrops,
		/* 1: exact; N: the top-K tables sample 1 query in N now. */
		"sample_rate", (json_int_t)(d->traffic ? traffic_sample_rate(d->traffic) : 1)));
}
