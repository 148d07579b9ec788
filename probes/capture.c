/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "capture.h"

#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FILTER_MAX 512

struct capture_handle {
	pcap_t *pcap;
	char *ifname;
	uint32_t ifindex;               /* of a named interface; 0 on "any" */
	int fd;
	int linktype;
	char filter[FILTER_MAX];
	struct pcap_stat last;          /* raw counters at the previous read */
	struct capture_stats sum;       /* widened */
};

/* A configured interface that could not be opened (yet). */
struct capture_missing {
	char *ifname;
	char *error;
	int errnum;
};

struct capture {
	struct capture_handle *h;
	size_t n;
	struct capture_missing *missing;
	size_t n_missing;
	struct capture_options o;       /* for retries; interfaces not kept */
};

static void set_error(char *errbuf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(char *errbuf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, size, fmt, ap);
	va_end(ap);
}

/* "port 53" only looks at a transport header right after the fixed IPv6
 * header. A query can carry a Hop-by-Hop, Routing or Destination Options
 * header first (the kernel rule refuses it all the same), so the filter also
 * follows one such header: its length byte says where UDP or TCP starts.
 * Everything else still fails in the kernel before a copy. The port is at
 * offset 0 (source) or 2 (destination) of the transport header. */
#define EXT6_PORT(off) \
	"(ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 60) and (ip6[40] = 6 or ip6[40] = 17) and " \
	"ip6[40 + (ip6[41] + 1) * 8 + " #off " : 2] = 53"

int capture_filter_expression(const struct capture_options *o, bool any, bool direction, char *buf,
			      size_t size)
{
	const char *in = direction ? "inbound and " : "";
	const char *out = direction ? "outbound and " : "";
	/* lo's ifindex is 1 in every namespace; without this every local
	 * lookup through a stub resolver would be counted as a query. */
	const char *lo = any && !o->loopback ? "not ifindex 1 and " : "";
	int n;

	if (o->responses)
		n = snprintf(buf, size, "%s((%s(dst port 53 or (" EXT6_PORT(2) "))) or (%s(src port 53 or ("
			     EXT6_PORT(0) "))))", lo, in, out);
	else
		n = snprintf(buf, size, "%s%s(dst port 53 or (" EXT6_PORT(2) "))", lo, in);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

static int pcap_status_to_errno(int status)
{
	switch (status) {
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		return -EPERM;
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return -ENODEV;
	case PCAP_ERROR_IFACE_NOT_UP:
		return -ENETDOWN;
	default:
		return -EIO;
	}
}

static const char *pcap_status_hint(int status)
{
	switch (status) {
	case PCAP_ERROR_PERM_DENIED:
		return " (capturing needs CAP_NET_RAW)";
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return " (no such interface)";
	case PCAP_ERROR_IFACE_NOT_UP:
		return " (interface is down)";
	default:
		return "";
	}
}

/* Buffer, timeout, snaplen: everything that must be set before activation.
 * Immediate mode stays off: with it libpcap falls back to TPACKET_V2. */
static int handle_configure(pcap_t *p, const struct capture_options *o)
{
	uint64_t buf = o->buffer_size ? o->buffer_size : CAPTURE_BUFFER_DEFAULT;

	if (buf > INT32_MAX)
		buf = INT32_MAX;
	if (pcap_set_snaplen(p, (int)(o->snaplen ? o->snaplen : CAPTURE_SNAPLEN_DEFAULT)) != 0 ||
	    pcap_set_promisc(p, 0) != 0 ||
	    pcap_set_timeout(p, (int)(o->timeout_ms ? o->timeout_ms : CAPTURE_TIMEOUT_DEFAULT_MS)) != 0 ||
	    pcap_set_buffer_size(p, (int)buf) != 0 ||
	    pcap_set_immediate_mode(p, 0) != 0)
		return -EIO;
	return 0;
}

static int set_filter(struct capture_handle *h, const char *expr)
{
	struct bpf_program prog;
	int r;

	if (pcap_compile(h->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
		return -EINVAL;
	r = pcap_setfilter(h->pcap, &prog) == 0 ? 0 : -EIO;
	pcap_freecode(&prog);
	return r;
}

/* After pcap_setfilter() libpcap re-filters the first ring block in user
 * space (it may hold packets that passed an older filter), and its
 * user-space BPF cannot run the kernel extension (SKF_AD_PKTTYPE) that
 * "inbound"/"outbound" compile to on Ethernet and raw handles: every packet
 * of that first block is lost (libpcap issues 1254, 1402 and 1482). So
 * such handles get the same filter without the direction through libpcap,
 * which is harmless in user space, and the directional program straight on
 * the socket, where only the kernel runs it. Cooked handles (SLL, SLL2)
 * carry the packet type in their header and need none of this. */
static int attach_directional(struct capture_handle *h, const struct capture_options *o,
			      const struct bpf_program *prog)
{
	char superset[FILTER_MAX];
	struct sock_fprog fp = {
		.len = (unsigned short)prog->bf_len,
		.filter = (struct sock_filter *)prog->bf_insns,  /* the same layout */
	};
	int r;

	if (capture_filter_expression(o, false, false, superset, sizeof(superset)) < 0)
		return -ENOBUFS;
	r = set_filter(h, superset);
	if (r < 0)
		return r;
	if (setsockopt(pcap_fileno(h->pcap), SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
		snprintf(h->filter, sizeof(h->filter), "%s", superset);        /* direction lost: say so */
	return 0;
}

static bool is_cooked(int linktype)
{
	return linktype == DLT_LINUX_SLL || linktype == DLT_LINUX_SLL2;
}

/* The direction goes in the kernel filter; libpcap 1.10 compiles it on
 * Linux for SLL/SLL2 (the packet type field) and for live Ethernet and raw
 * handles (the kernel's SKF_AD_PKTTYPE). Should a link type refuse it, the
 * filter without "inbound"/"outbound" is used instead and the handle's
 * filter text (capture_filter()) shows that. */
static int handle_filter(struct capture_handle *h, const struct capture_options *o, bool any,
			 char *errbuf, size_t size)
{
	struct bpf_program prog;
	int r;

	if (capture_filter_expression(o, any, true, h->filter, sizeof(h->filter)) < 0)
		return -ENOBUFS;
	if (pcap_compile(h->pcap, &prog, h->filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
		if (is_cooked(h->linktype))
			r = pcap_setfilter(h->pcap, &prog) == 0 ? 0 : -EIO;
		else
			r = attach_directional(h, o, &prog);
		pcap_freecode(&prog);
	} else {
		if (capture_filter_expression(o, any, false, h->filter, sizeof(h->filter)) < 0)
			return -ENOBUFS;
		r = set_filter(h, h->filter);
	}
	if (r < 0)
		set_error(errbuf, size, "capture on %s: filter '%s': %s", h->ifname, h->filter,
			  pcap_geterr(h->pcap));
	return r;
}

static int handle_activate(struct capture_handle *h, const struct capture_options *o, bool any,
			   char *errbuf, size_t size)
{
	int status = pcap_activate(h->pcap);

	if (status < 0) {
		set_error(errbuf, size, "capture on %s: %s%s", h->ifname, pcap_geterr(h->pcap),
			  pcap_status_hint(status));
		return pcap_status_to_errno(status);
	}
	/* SLL2 carries the interface index; an older libpcap keeps SLL. */
	if (any)
		(void)pcap_set_datalink(h->pcap, DLT_LINUX_SLL2);
	h->linktype = pcap_datalink(h->pcap);
	return handle_filter(h, o, any, errbuf, size);
}

static int handle_open(struct capture_handle *h, const char *name, const struct capture_options *o,
		       char *errbuf, size_t size)
{
	char pe[PCAP_ERRBUF_SIZE] = "";
	bool any = strcmp(name, "any") == 0;
	int r;

	h->fd = -1;
	h->ifname = strdup(name);
	if (!h->ifname)
		return -ENOMEM;
	h->pcap = pcap_create(name, pe);
	if (!h->pcap) {
		set_error(errbuf, size, "capture on %s: %s", name, pe);
		return -EIO;
	}
	if (handle_configure(h->pcap, o) < 0) {
		set_error(errbuf, size, "capture on %s: cannot set options: %s", name, pcap_geterr(h->pcap));
		return -EIO;
	}
	r = handle_activate(h, o, any, errbuf, size);
	if (r < 0)
		return r;
	if (pcap_setnonblock(h->pcap, 1, pe) != 0) {
		set_error(errbuf, size, "capture on %s: %s", name, pe);
		return -EIO;
	}
	h->fd = pcap_get_selectable_fd(h->pcap);
	if (h->fd < 0) {
		set_error(errbuf, size, "capture on %s: no selectable descriptor", name);
		return -EIO;
	}
	/* Once per handle, so each packet can name its interface as SLL2
	 * packets on "any" do. */
	h->ifindex = any ? 0 : if_nametoindex(name);
	return 0;
}

static void handle_close(struct capture_handle *h)
{
	if (h->pcap)
		pcap_close(h->pcap);
	free(h->ifname);
	*h = (struct capture_handle){ .fd = -1 };
}

/* Only an interface that is not there or not up is left out: any other
 * error (no permission, a filter refused) would hit the others too. */
static bool is_missing(int r)
{
	return r == -ENODEV || r == -ENETDOWN;
}

static int missing_add(struct capture *c, const char *name, int r, const char *error)
{
	struct capture_missing *m = &c->missing[c->n_missing];

	m->ifname = strdup(name);
	m->error = strdup(error);
	m->errnum = r;
	if (!m->ifname || !m->error) {
		free(m->ifname);
		free(m->error);
		return -ENOMEM;
	}
	c->n_missing++;
	return 0;
}

static void missing_free(struct capture_missing *m)
{
	free(m->ifname);
	free(m->error);
}

/* Opens name as the next handle; a missing interface goes to the missing
 * list when c->o.partial allows it. */
static int capture_add(struct capture *c, const char *name, char *errbuf, size_t size)
{
	char err[CAPTURE_ERRBUF_SIZE] = "";
	int r;

	r = handle_open(&c->h[c->n], name, &c->o, err, sizeof(err));
	if (r == 0) {
		c->n++;
		return 0;
	}
	handle_close(&c->h[c->n]);
	if (c->o.partial && is_missing(r))
		return missing_add(c, name, r, err);
	set_error(errbuf, size, "%s", r == -ENOMEM ? "capture: out of memory" : err);
	return r;
}

int capture_open(const struct capture_options *o, struct capture **ret, char *errbuf, size_t errbuf_size)
{
	static const char *const any[] = { "any" };
	const char *const *names = o->n_interfaces ? o->interfaces : any;
	size_t n = o->n_interfaces ? o->n_interfaces : 1;
	struct capture *c;
	int r = 0;

	c = calloc(1, sizeof(*c));
	if (!c || !(c->h = calloc(n, sizeof(*c->h))) || !(c->missing = calloc(n, sizeof(*c->missing)))) {
		capture_free(c);
		set_error(errbuf, errbuf_size, "capture: out of memory");
		return -ENOMEM;
	}
	c->o = *o;
	c->o.interfaces = NULL;
	c->o.partial = o->partial && o->n_interfaces > 0;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = capture_add(c, names[i], errbuf, errbuf_size);
	if (r < 0) {
		capture_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->h && i < c->n; i++)
		handle_close(&c->h[i]);
	for (size_t i = 0; c->missing && i < c->n_missing; i++)
		missing_free(&c->missing[i]);
	free(c->h);
	free(c->missing);
	free(c);
}

size_t capture_n_missing(const struct capture *c)
{
	return c->n_missing;
}

const char *capture_missing_ifname(const struct capture *c, size_t i)
{
	return i < c->n_missing ? c->missing[i].ifname : NULL;
}

const char *capture_missing_error(const struct capture *c, size_t i)
{
	return i < c->n_missing ? c->missing[i].error : NULL;
}

int capture_retry(struct capture *c, char *errbuf, size_t errbuf_size)
{
	size_t n = c->n_missing, before = c->n;
	struct capture_missing *old;
	int r = 0;

	if (n == 0)
		return 0;
	old = calloc(n, sizeof(*old));
	if (!old) {
		set_error(errbuf, errbuf_size, "capture: out of memory");
		return -ENOMEM;
	}
	/* Each missing name is tried once; those still missing come back. */
	memcpy(old, c->missing, n * sizeof(*old));
	memset(c->missing, 0, n * sizeof(*old));
	c->n_missing = 0;
	for (size_t i = 0; i < n; i++) {
		if (r >= 0)
			r = capture_add(c, old[i].ifname, errbuf, errbuf_size);
		if (r < 0 && c->n_missing < n && missing_add(c, old[i].ifname, old[i].errnum, old[i].error) < 0)
			r = -ENOMEM;
		missing_free(&old[i]);
	}
	free(old);
	return r < 0 ? r : (int)(c->n - before);
}

int capture_close_handle(struct capture *c, size_t i, const char *error)
{
	struct capture_handle h;
	int r;

	if (i >= c->n)
		return -EINVAL;
	h = c->h[i];
	memmove(&c->h[i], &c->h[i + 1], (c->n - i - 1) * sizeof(c->h[0]));
	c->n--;
	r = c->o.partial ? missing_add(c, h.ifname, -ENODEV, error ? error : "capture stopped") : 0;
	handle_close(&h);
	return r;
}

size_t capture_n_handles(const struct capture *c)
{
	return c->n;
}

int capture_fd(const struct capture *c, size_t i)
{
	return i < c->n ? c->h[i].fd : -EINVAL;
}

const char *capture_ifname(const struct capture *c, size_t i)
{
	return i < c->n ? c->h[i].ifname : NULL;
}

int capture_linktype(const struct capture *c, size_t i)
{
	return i < c->n ? c->h[i].linktype : -EINVAL;
}

const char *capture_filter(const struct capture *c, size_t i)
{
	return i < c->n ? c->h[i].filter : NULL;
}

/* libpcap falls back to filtering in user space, after the copy, when the
 * kernel refuses a program; the socket says which one it runs. */
bool capture_filter_in_kernel(const struct capture *c, size_t i)
{
	socklen_t len = 0;

	if (i >= c->n)
		return false;
	if (getsockopt(pcap_fileno(c->h[i].pcap), SOL_SOCKET, SO_GET_FILTER, NULL, &len) < 0)
		return false;
	return len > 0;
}

struct dispatch_ctx {
	const struct capture_handle *h;
	capture_handler_t handler;
	void *userdata;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
	const struct dispatch_ctx *d = (const struct dispatch_ctx *)user;
	struct capture_packet pkt = {
		.linktype = d->h->linktype,
		.ts = { .tv_sec = hdr->ts.tv_sec, .tv_nsec = (long)hdr->ts.tv_usec * 1000 },
		.data = bytes,
		.caplen = hdr->caplen,
		.len = hdr->len,
		.ifname = d->h->ifname,
		.ifindex = d->h->ifindex,
	};

	d->handler(&pkt, d->userdata);
}

int capture_dispatch(struct capture *c, size_t i, unsigned max_blocks, capture_handler_t handler,
		     void *userdata, char *errbuf, size_t errbuf_size)
{
	struct dispatch_ctx d = { .handler = handler, .userdata = userdata };
	int total = 0;

	if (i >= c->n)
		return -EINVAL;
	d.h = &c->h[i];
	/* cnt -1: one ring block per call with TPACKET_V3; 0 means empty. */
	for (unsigned b = 0; max_blocks == 0 || b < max_blocks; b++) {
		int n = pcap_dispatch(c->h[i].pcap, -1, on_packet, (u_char *)&d);

		if (n < 0) {
			set_error(errbuf, errbuf_size, "capture on %s: %s", c->h[i].ifname,
				  pcap_geterr(c->h[i].pcap));
			return -EIO;
		}
		if (n == 0)
			break;
		total += n;
	}
	return total;
}

/* pcap_stat holds u_int counters; add the difference modulo 2^32. */
static int handle_stats(struct capture_handle *h)
{
	struct pcap_stat st;

	if (pcap_stats(h->pcap, &st) != 0)
		return -EIO;
	h->sum.received += (uint32_t)(st.ps_recv - h->last.ps_recv);
	h->sum.dropped += (uint32_t)(st.ps_drop - h->last.ps_drop);
	h->sum.ifdropped += (uint32_t)(st.ps_ifdrop - h->last.ps_ifdrop);
	h->last = st;
	return 0;
}

int capture_stats(struct capture *c, struct capture_stats *ret)
{
	struct capture_stats s = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		if (handle_stats(&c->h[i]) < 0)
			return -EIO;
		s.received += c->h[i].sum.received;
		s.dropped += c->h[i].sum.dropped;
		s.ifdropped += c->h[i].sum.ifdropped;
	}
	*ret = s;
	return 0;
}
