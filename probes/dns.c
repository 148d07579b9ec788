/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dns.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Enough for stacked 802.1ad/802.1Q (two) with room for odd setups; more
 * than this is a crafted frame. */
#define MAX_VLAN_TAGS 4
/* A legal chain rarely has more than 3 (hop-by-hop, routing, fragment). */
#define MAX_IPV6_EXT_HEADERS 8
/* A legal name has at most 127 labels, each reachable by one pointer. */
#define MAX_POINTER_JUMPS 127

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8
#define ETH_P_QINQ1_ 0x9100

static const char *const error_names[_DNS_ERR_MAX] = {
	[DNS_OK] = "ok",
	[DNS_ERR_UNSUPPORTED_LINK] = "unsupported_link",
	[DNS_ERR_NOT_IP] = "not_ip",
	[DNS_ERR_NOT_UDP_TCP] = "not_udp_tcp",
	[DNS_ERR_NOT_DNS_PORT] = "not_dns_port",
	[DNS_ERR_TCP_NO_PAYLOAD] = "tcp_no_payload",
	[DNS_ERR_FRAGMENT] = "fragment",
	[DNS_ERR_TRUNCATED_LINK] = "truncated_link",
	[DNS_ERR_TRUNCATED_IP] = "truncated_ip",
	[DNS_ERR_BAD_IP_HEADER] = "bad_ip_header",
	[DNS_ERR_TOO_MANY_EXT_HEADERS] = "too_many_ext_headers",
	[DNS_ERR_TRUNCATED_UDP] = "truncated_udp",
	[DNS_ERR_TRUNCATED_TCP] = "truncated_tcp",
	[DNS_ERR_BAD_TCP_LENGTH] = "bad_tcp_length",
	[DNS_ERR_TRUNCATED_DNS_HEADER] = "truncated_dns_header",
	[DNS_ERR_BAD_LABEL_TYPE] = "bad_label_type",
	[DNS_ERR_FORWARD_POINTER] = "forward_pointer",
	[DNS_ERR_POINTER_LOOP] = "pointer_loop",
	[DNS_ERR_NAME_TOO_LONG] = "name_too_long",
	[DNS_ERR_TRUNCATED_NAME] = "truncated_name",
	[DNS_ERR_TRUNCATED_QUESTION] = "truncated_question",
	[DNS_ERR_TRUNCATED_RR] = "truncated_rr",
};

const char *dns_error_to_string(enum dns_error e)
{
	if ((unsigned)e >= _DNS_ERR_MAX)
		return "unknown";
	return error_names[e];
}

bool dns_error_is_malformed(enum dns_error e)
{
	return e >= DNS_ERR_TRUNCATED_LINK && e < _DNS_ERR_MAX;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- names ---------------------------------------------------------- */

/* 1 for the bytes that appear as themselves in dig's presentation form:
 * 0x21..0x7e except the ones BIND's dns_name_totext() escapes with a
 * backslash ('"', '$', '(', ')', '.', ';', '@', '\\'). */
static const uint8_t plain_byte[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	/* 0x80..0xff: all zero */
};

static size_t put_escaped(char *text, size_t t, uint8_t b)
{
	text[t++] = '\\';
	if (b > 0x20 && b < 0x7f) {
		text[t++] = (char)b;
		return t;
	}
	text[t++] = (char)('0' + b / 100);
	text[t++] = (char)('0' + b / 10 % 10);
	text[t++] = (char)('0' + b % 10);
	return t;
}

/* Appends one label (n bytes at p) to the text at t, with its dot. */
static size_t put_label(char *text, size_t t, const uint8_t *p, size_t n)
{
	char *o = text + t;

	if (t > 0)
		*o++ = '.';
	for (const uint8_t *end = p + n; p < end; p++) {
		if (plain_byte[*p])
			*o++ = (char)*p;
		else
			o += put_escaped(o, 0, *p);
	}
	return (size_t)(o - text);
}

size_t dns_name_to_text(const uint8_t *wire, size_t wire_len, char *text)
{
	size_t i = 0, t = 0;

	if (wire_len > DNS_NAME_WIRE_MAX)
		wire_len = DNS_NAME_WIRE_MAX;
	while (i < wire_len && wire[i] != 0) {
		size_t n = wire[i++];

		/* Never trust the caller's wire form beyond the buffer bound. */
		if (n > DNS_LABEL_MAX || n > wire_len - i)
			break;
		t = put_label(text, t, wire + i, n);
		i += n;
	}
	if (t == 0)
		text[t++] = '.';
	text[t] = '\0';
	return t;
}

/* Follows one compression pointer at msg[o]. Targets must lie before the
 * start of the run of labels being read (tcpdump's CVE-2017-12995 fix):
 * each jump then strictly lowers that bound, so no loop can form. */
static enum dns_error follow_pointer(const uint8_t *msg, size_t len, size_t o, size_t *limit,
				     unsigned *jumps, size_t *ret_target)
{
	size_t target;

	if (len - o < 2)
		return DNS_ERR_TRUNCATED_NAME;
	target = (size_t)(msg[o] & 0x3f) << 8 | msg[o + 1];
	if (target >= o)
		return DNS_ERR_FORWARD_POINTER;
	if (target >= *limit || ++*jumps > MAX_POINTER_JUMPS)
		return DNS_ERR_POINTER_LOOP;
	*limit = target;
	*ret_target = target;
	return DNS_OK;
}

const char *dns_name_text(struct dns_name *n)
{
	if (n->text_len == 0)
		n->text_len = (uint16_t)dns_name_to_text(n->wire, n->wire_len, n->text);
	return n->text;
}

/* Labels are checked one by one but copied a run at a time: a run is what
 * lies between the start (or a pointer's target) and the next pointer or
 * the root, one run for an uncompressed name. */
static enum dns_error parse_name_wire(const uint8_t *msg, size_t len, size_t *offset, struct dns_name *ret)
{
	size_t o = *offset, limit = *offset, end = 0, w = 0, run = o;
	unsigned jumps = 0;
	enum dns_error e;

	for (;;) {
		uint8_t c;

		if (o >= len)
			return DNS_ERR_TRUNCATED_NAME;
		c = msg[o];
		if ((c & 0xc0) == 0xc0) {
			memcpy(ret->wire + w, msg + run, o - run);
			w += o - run;
			if (jumps == 0)
				end = o + 2;
			e = follow_pointer(msg, len, o, &limit, &jumps, &o);
			if (e != DNS_OK)
				return e;
			run = o;
			continue;
		}
		if (c & 0xc0)
			return DNS_ERR_BAD_LABEL_TYPE;
		/* A non-root label still needs room for the root after it. */
		if (w + (o - run) + 1 + c + (c ? 1 : 0) > DNS_NAME_WIRE_MAX)
			return DNS_ERR_NAME_TOO_LONG;
		if (len - o < 1 + (size_t)c)
			return DNS_ERR_TRUNCATED_NAME;
		o += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	memcpy(ret->wire + w, msg + run, o - run);
	ret->wire_len = (uint16_t)(w + (o - run));
	ret->text_len = 0;
	ret->text[0] = '\0';
	*offset = jumps ? end : o;
	return DNS_OK;
}

/* Steps over a name without following pointers: enough to find the next
 * record, and validates label types and the length on the way. */
static enum dns_error skip_name(const uint8_t *msg, size_t len, size_t *offset)
{
	size_t o = *offset;

	for (;;) {
		uint8_t c;

		if (o >= len)
			return DNS_ERR_TRUNCATED_RR;
		c = msg[o];
		if ((c & 0xc0) == 0xc0) {
			if (len - o < 2)
				return DNS_ERR_TRUNCATED_RR;
			o += 2;
			break;
		}
		if (c & 0xc0)
			return DNS_ERR_BAD_LABEL_TYPE;
		o += 1 + (size_t)c;
		if (o - *offset > DNS_NAME_WIRE_MAX)
			return DNS_ERR_NAME_TOO_LONG;
		if (c == 0)
			break;
	}
	if (o > len)
		return DNS_ERR_TRUNCATED_RR;
	*offset = o;
	return DNS_OK;
}

/* ---- messages ------------------------------------------------------- */

static void parse_header(const uint8_t *msg, struct dns_header *h)
{
	h->id = rd16(msg);
	h->flags = rd16(msg + 2);
	h->qr = h->flags & DNS_FLAG_QR;
	h->aa = h->flags & DNS_FLAG_AA;
	h->tc = h->flags & DNS_FLAG_TC;
	h->rd = h->flags & DNS_FLAG_RD;
	h->ra = h->flags & DNS_FLAG_RA;
	h->ad = h->flags & DNS_FLAG_AD;
	h->cd = h->flags & DNS_FLAG_CD;
	h->opcode = (h->flags >> 11) & 0xf;
	h->rcode = h->flags & 0xf;
	h->qdcount = rd16(msg + 4);
	h->ancount = rd16(msg + 6);
	h->nscount = rd16(msg + 8);
	h->arcount = rd16(msg + 10);
}

/* One resource record at *offset; notes an OPT when it is in the
 * additional section (the only place EDNS may be). */
static enum dns_error walk_rr(const uint8_t *msg, size_t len, size_t *offset, bool additional,
			      struct dns_packet *p)
{
	size_t o = *offset, name_start = o;
	uint16_t type, rdlen;
	enum dns_error e;

	e = skip_name(msg, len, &o);
	if (e != DNS_OK)
		return e;
	if (len - o < 10)
		return DNS_ERR_TRUNCATED_RR;
	type = rd16(msg + o);
	rdlen = rd16(msg + o + 8);
	if (additional && type == DNS_TYPE_OPT && o - name_start == 1 && !p->edns) {
		p->edns = true;
		p->edns_udp_size = rd16(msg + o + 2);
		p->edns_do = msg[o + 6] & 0x80;
	}
	o += 10;
	if (len - o < rdlen)
		return DNS_ERR_TRUNCATED_RR;
	*offset = o + rdlen;
	return DNS_OK;
}

/* Walks the rest of the message after the first question. Each step eats
 * at least one byte or fails, so the loop is bounded by the length. */
static enum dns_error walk_sections(const uint8_t *msg, size_t len, size_t o, struct dns_packet *p)
{
	const struct dns_header *h = &p->hdr;
	uint32_t rrs = (uint32_t)h->ancount + h->nscount;
	enum dns_error e;

	for (unsigned i = p->has_question ? 1 : 0; i < h->qdcount; i++) {
		e = skip_name(msg, len, &o);
		if (e != DNS_OK)
			return e;
		if (len - o < 4)
			return DNS_ERR_TRUNCATED_RR;
		o += 4;
	}
	for (uint32_t i = 0; i < rrs + h->arcount; i++) {
		e = walk_rr(msg, len, &o, i >= rrs, p);
		if (e != DNS_OK)
			return e;
	}
	return DNS_OK;
}

static enum dns_error parse_message(const uint8_t *msg, size_t len, bool partial, struct dns_packet *p)
{
	size_t o = 12;
	enum dns_error e;

	if (len < 12)
		return DNS_ERR_TRUNCATED_DNS_HEADER;
	p->dns_len = len > UINT16_MAX ? UINT16_MAX : (uint16_t)len;
	parse_header(msg, &p->hdr);
	p->has_question = p->hdr.qdcount > 0;
	p->qtype = p->qclass = 0;
	p->edns = p->edns_do = false;
	p->edns_udp_size = 0;
	p->rr_error = DNS_OK;
	p->qname.wire_len = p->qname.text_len = 0;
	p->qname.text[0] = '\0';
	if (p->has_question) {
		e = parse_name_wire(msg, len, &o, &p->qname);
		if (e != DNS_OK)
			return e;
		if (len - o < 4)
			return DNS_ERR_TRUNCATED_QUESTION;
		p->qtype = rd16(msg + o);
		p->qclass = rd16(msg + o + 2);
		o += 4;
	}
	e = walk_sections(msg, len, o, p);
	/* A cut TCP segment or a short snaplen ends early by design. */
	if (e != DNS_OK && !(partial && e == DNS_ERR_TRUNCATED_RR))
		p->rr_error = e;
	return DNS_OK;
}

/* ---- transport ------------------------------------------------------ */

static bool is_dns_port(const struct dns_packet *p)
{
	return p->sport == DNS_PORT || p->dport == DNS_PORT;
}

static enum dns_error parse_udp(const uint8_t *d, size_t len, bool partial, struct dns_packet *p)
{
	uint16_t ulen;

	if (len < 8)
		return DNS_ERR_TRUNCATED_UDP;
	p->sport = rd16(d);
	p->dport = rd16(d + 2);
	if (!is_dns_port(p))
		return DNS_ERR_NOT_DNS_PORT;
	ulen = rd16(d + 4);
	if (ulen < 8)
		return DNS_ERR_TRUNCATED_UDP;
	if (ulen < len)
		len = ulen;     /* link padding after the datagram */
	else if (ulen > len)
		partial = true; /* first fragment or short snaplen */
	return parse_message(d + 8, len - 8, partial, p);
}

/* DNS over TCP: a 2-byte length, then the message. Only a segment that
 * starts a message is understood; the question is in the first bytes, so
 * that is enough. A second pipelined message in the segment is ignored. */
static enum dns_error parse_tcp(const uint8_t *d, size_t len, bool partial, struct dns_packet *p)
{
	size_t doff, avail;
	uint16_t mlen;

	if (len < 20)
		return DNS_ERR_TRUNCATED_TCP;
	p->sport = rd16(d);
	p->dport = rd16(d + 2);
	if (!is_dns_port(p))
		return DNS_ERR_NOT_DNS_PORT;
	doff = (size_t)(d[12] >> 4) * 4;
	if (doff < 20 || doff > len)
		return DNS_ERR_TRUNCATED_TCP;
	avail = len - doff;
	if (avail == 0)
		return DNS_ERR_TCP_NO_PAYLOAD;
	if (avail < 2)
		return DNS_ERR_TRUNCATED_TCP;
	mlen = rd16(d + doff);
	if (mlen < 12)
		return DNS_ERR_BAD_TCP_LENGTH;
	avail -= 2;
	if (avail > mlen)
		avail = mlen;
	else if (avail < mlen)
		partial = true;
	return parse_message(d + doff + 2, avail, partial, p);
}

static enum dns_error parse_transport(uint8_t proto, const uint8_t *d, size_t len, struct dns_packet *p)
{
	p->proto = proto;
	switch (proto) {
	case IPPROTO_UDP:
		return parse_udp(d, len, p->first_fragment, p);
	case IPPROTO_TCP:
		return parse_tcp(d, len, p->first_fragment, p);
	default:
		return DNS_ERR_NOT_UDP_TCP;
	}
}

/* ---- network -------------------------------------------------------- */

/* The address in the first 4 bytes, zeros after, written as two whole
 * words: readers that load words then get them from the store buffer. */
static void set_ipv4(uint8_t *to, const uint8_t *from)
{
	uint64_t w[2] = { 0, 0 };

	memcpy(w, from, 4);
	memcpy(to, w, 16);
}

static enum dns_error parse_ipv4(const uint8_t *d, size_t len, struct dns_packet *p)
{
	size_t hl, total;
	uint16_t frag;

	if (len < 20)
		return DNS_ERR_TRUNCATED_IP;
	hl = (size_t)(d[0] & 0xf) * 4;
	if ((d[0] >> 4) != 4 || hl < 20)
		return DNS_ERR_BAD_IP_HEADER;
	if (hl > len)
		return DNS_ERR_TRUNCATED_IP;
	total = rd16(d + 2);
	if (total < hl)
		return DNS_ERR_BAD_IP_HEADER;
	if (total < len)
		len = total;    /* Ethernet pads short frames */
	frag = rd16(d + 6);
	if (frag & 0x1fff)
		return DNS_ERR_FRAGMENT;
	p->first_fragment = frag & 0x2000;
	p->ip_len = (uint16_t)total;
	p->ip_id = rd16(d + 4);
	p->family = AF_INET;
	set_ipv4(p->src, d + 12);
	set_ipv4(p->dst, d + 16);
	return parse_transport(d[9], d + hl, len - hl, p);
}

static bool is_ipv6_ext_header(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_FRAGMENT || nh == IPPROTO_AH;
}

/* Every extension header we step over is at least 8 bytes long. */
static size_t ipv6_ext_len(uint8_t nh, const uint8_t *d)
{
	switch (nh) {
	case IPPROTO_FRAGMENT:
		return 8;
	case IPPROTO_AH:
		return ((size_t)d[1] + 2) * 4;
	default:
		return ((size_t)d[1] + 1) * 8;
	}
}

static enum dns_error parse_ipv6(const uint8_t *d, size_t len, struct dns_packet *p)
{
	size_t o = 40, plen, el;
	uint8_t nh;

	if (len < 40)
		return DNS_ERR_TRUNCATED_IP;
	if ((d[0] >> 4) != 6)
		return DNS_ERR_BAD_IP_HEADER;
	plen = rd16(d + 4);
	p->ip_len = (uint16_t)plen;
	p->ip_id = rd32(d) & 0xfffff;
	if (plen != 0 && 40 + plen < len)
		len = 40 + plen;        /* 0 is a jumbogram: keep what was captured */
	nh = d[6];
	p->first_fragment = false;
	for (unsigned n = 0; is_ipv6_ext_header(nh); n++) {
		if (n >= MAX_IPV6_EXT_HEADERS)
			return DNS_ERR_TOO_MANY_EXT_HEADERS;
		if (len - o < 8)
			return DNS_ERR_TRUNCATED_IP;
		el = ipv6_ext_len(nh, d + o);
		if (len - o < el)
			return DNS_ERR_TRUNCATED_IP;
		if (nh == IPPROTO_FRAGMENT) {
			if (rd16(d + o + 2) & 0xfff8)
				return DNS_ERR_FRAGMENT;
			p->first_fragment = d[o + 3] & 1;
		}
		nh = d[o];
		o += el;
	}
	p->family = AF_INET6;
	memcpy(p->src, d + 8, 16);
	memcpy(p->dst, d + 24, 16);
	return parse_transport(nh, d + o, len - o, p);
}

static enum dns_error parse_ip_version(const uint8_t *d, size_t len, struct dns_packet *p)
{
	if (len < 1)
		return DNS_ERR_TRUNCATED_IP;
	switch (d[0] >> 4) {
	case 4:
		return parse_ipv4(d, len, p);
	case 6:
		return parse_ipv6(d, len, p);
	default:
		return DNS_ERR_BAD_IP_HEADER;
	}
}

/* ---- link ----------------------------------------------------------- */

/* Steps over VLAN tags (802.1Q, 802.1ad, and the old 0x9100 QinQ) and
 * dispatches on the inner ethertype. */
static enum dns_error parse_ethertype(uint16_t type, const uint8_t *d, size_t len, struct dns_packet *p)
{
	size_t o = 0;

	for (unsigned tags = 0;; tags++) {
		if (type != ETH_P_8021Q_ && type != ETH_P_8021AD_ && type != ETH_P_QINQ1_)
			break;
		if (tags >= MAX_VLAN_TAGS)
			return DNS_ERR_NOT_IP;
		if (len - o < 4)
			return DNS_ERR_TRUNCATED_LINK;
		type = rd16(d + o + 2);
		o += 4;
	}
	switch (type) {
	case ETH_P_IPV4:
		return parse_ipv4(d + o, len - o, p);
	case ETH_P_IPV6_:
		return parse_ipv6(d + o, len - o, p);
	default:
		return DNS_ERR_NOT_IP;
	}
}

/* The 4-byte address family of DLT_NULL/DLT_LOOP, in either byte order
 * (DLT_NULL is in the capturing host's order, which we cannot know). */
static enum dns_error parse_null(const uint8_t *d, size_t len, struct dns_packet *p)
{
	uint32_t af;

	if (len < 4)
		return DNS_ERR_TRUNCATED_LINK;
	af = rd32(d);
	if (af > 0xffff)
		af = __builtin_bswap32(af);
	switch (af) {
	case 2:
		return parse_ipv4(d + 4, len - 4, p);
	case 10: case 24: case 28: case 30:     /* AF_INET6 on Linux, BSDs, macOS */
		return parse_ipv6(d + 4, len - 4, p);
	default:
		return DNS_ERR_NOT_IP;
	}
}

static enum dns_error parse_link(int linktype, const uint8_t *d, size_t len, struct dns_packet *p)
{
	switch (linktype) {
	case DNS_LINK_EN10MB:
		if (len < 14)
			return DNS_ERR_TRUNCATED_LINK;
		return parse_ethertype(rd16(d + 12), d + 14, len - 14, p);
	case DNS_LINK_LINUX_SLL:
		if (len < 16)
			return DNS_ERR_TRUNCATED_LINK;
		p->pkttype = (int16_t)rd16(d);
		return parse_ethertype(rd16(d + 14), d + 16, len - 16, p);
	case DNS_LINK_LINUX_SLL2:
		if (len < 20)
			return DNS_ERR_TRUNCATED_LINK;
		p->ifindex = (int32_t)rd32(d + 4);
		p->pkttype = d[10];
		return parse_ethertype(rd16(d), d + 20, len - 20, p);
	case DNS_LINK_RAW:
	case DNS_LINK_RAW_FILE:
		return parse_ip_version(d, len, p);
	case DNS_LINK_IPV4:
		return parse_ipv4(d, len, p);
	case DNS_LINK_IPV6:
		return parse_ipv6(d, len, p);
	case DNS_LINK_NULL:
	case DNS_LINK_LOOP:
		return parse_null(d, len, p);
	default:
		return DNS_ERR_UNSUPPORTED_LINK;
	}
}

enum dns_error dns_parse_packet_notext(int linktype, const uint8_t *data, size_t len, struct dns_packet *ret)
{
	ret->ifindex = 0;
	ret->pkttype = DNS_PKTTYPE_UNKNOWN;
	ret->first_fragment = false;
	ret->ip_len = 0;
	ret->ip_id = 0;
	return parse_link(linktype, data, len, ret);
}

/* The public parsers render the question's text; the transport path above
 * leaves it to them (or, through dns_parse_packet_notext(), to the caller). */
static enum dns_error with_text(enum dns_error e, struct dns_packet *p)
{
	if (e == DNS_OK && p->has_question)
		dns_name_text(&p->qname);
	return e;
}

enum dns_error dns_parse_packet(int linktype, const uint8_t *data, size_t len, struct dns_packet *ret)
{
	return with_text(dns_parse_packet_notext(linktype, data, len, ret), ret);
}

enum dns_error dns_parse_message(const uint8_t *msg, size_t len, bool partial, struct dns_packet *ret)
{
	return with_text(parse_message(msg, len, partial, ret), ret);
}

enum dns_error dns_parse_name(const uint8_t *msg, size_t len, size_t *offset, struct dns_name *ret)
{
	enum dns_error e = parse_name_wire(msg, len, offset, ret);

	if (e == DNS_OK)
		dns_name_text(ret);
	return e;
}

/* ---- names for numbers ---------------------------------------------- */

const char *dns_type_to_string(uint16_t qtype)
{
	static const struct { uint16_t type; const char *name; } types[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 10, "NULL" },
		{ 12, "PTR" }, { 13, "HINFO" }, { 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" },
		{ 33, "SRV" }, { 35, "NAPTR" }, { 39, "DNAME" }, { 41, "OPT" }, { 43, "DS" },
		{ 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" }, { 50, "NSEC3" },
		{ 52, "TLSA" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 99, "SPF" },
		{ 251, "IXFR" }, { 252, "AXFR" }, { 255, "ANY" }, { 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == qtype)
			return types[i].name;
	return NULL;
}

const char *dns_rcode_to_string(uint8_t rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : NULL;
}
