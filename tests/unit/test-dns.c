/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns.h"

/*
 * Packets are built here byte by byte from a small spec (link type, IP
 * version, IP options or IPv6 extension headers, VLAN tags, transport), so
 * every case states what it sends. Malformed cases start from a good packet
 * and break one thing.
 */

#define BUF 4096

struct bytes {
	uint8_t b[BUF];
	size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= BUF);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put8(struct bytes *o, uint8_t v)
{
	put(o, &v, 1);
}

static void put16(struct bytes *o, uint16_t v)
{
	put8(o, (uint8_t)(v >> 8));
	put8(o, (uint8_t)v);
}

static void put32(struct bytes *o, uint32_t v)
{
	put16(o, (uint16_t)(v >> 16));
	put16(o, (uint16_t)v);
}

static void zeros(struct bytes *o, size_t n)
{
	while (n--)
		put8(o, 0);
}

/* "a.b.c" to wire form; "" and "." are the root. No escapes. */
static void put_name(struct bytes *o, const char *dotted)
{
	const char *p = dotted;

	while (*p && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		put8(o, (uint8_t)n);
		put(o, p, n);
		p += n + (dot ? 1 : 0);
	}
	put8(o, 0);
}

/* A name of the given label lengths, each label filled with 'a'..'z'. */
static void put_long_name(struct bytes *o, const unsigned *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put8(o, (uint8_t)labels[i]);
		for (unsigned k = 0; k < labels[i]; k++)
			put8(o, (uint8_t)('a' + k % 26));
	}
	put8(o, 0);
}

static void put_header(struct bytes *o, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
		       uint16_t ar)
{
	put16(o, id);
	put16(o, flags);
	put16(o, qd);
	put16(o, an);
	put16(o, ns);
	put16(o, ar);
}

static void put_opt(struct bytes *o, uint16_t udp_size, bool do_bit)
{
	put8(o, 0);             /* root */
	put16(o, DNS_TYPE_OPT);
	put16(o, udp_size);
	put32(o, do_bit ? 0x8000 : 0);
	put16(o, 0);
}

/* A query for name/type IN, with an OPT record when edns. */
static void dns_query(struct bytes *o, const char *name, uint16_t qtype, bool edns)
{
	put_header(o, 0x1234, DNS_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
	put_name(o, name);
	put16(o, qtype);
	put16(o, 1);
	if (edns)
		put_opt(o, 1232, true);
}

/* ---- transport, network and link wrappers --------------------------- */

enum { V6_HOP = 0, V6_ROUTING = 43, V6_FRAG = 44, V6_AH = 51, V6_DST = 60 };

struct spec {
	int link;               /* DNS_LINK_* */
	int family;             /* 4 or 6 */
	int proto;              /* IPPROTO_UDP or IPPROTO_TCP */
	unsigned vlans;         /* Ethernet tags: 1 = 802.1Q, 2 = 802.1ad + 802.1Q */
	unsigned v4_optlen;     /* bytes of IPv4 options, a multiple of 4 */
	uint16_t v4_frag;       /* IPv4 flags+offset word */
	const uint8_t *v6_ext;  /* extension header types, in order */
	size_t n_v6_ext;
	uint16_t v6_frag;       /* offset+M word of a fragment header */
	uint16_t sport, dport;
	uint16_t pad;           /* Ethernet trailer bytes after the IP packet */
};

static void put_transport(struct bytes *o, const struct spec *s, const struct bytes *dns)
{
	if (s->proto == IPPROTO_UDP) {
		put16(o, s->sport);
		put16(o, s->dport);
		put16(o, (uint16_t)(8 + dns->n));
		put16(o, 0);
	} else {
		put16(o, s->sport);
		put16(o, s->dport);
		put32(o, 1);            /* seq */
		put32(o, 1);            /* ack */
		put16(o, 0x5018);       /* doff 5, PSH ACK */
		put16(o, 512);
		put32(o, 0);            /* checksum, urgent */
		put16(o, (uint16_t)dns->n);
	}
	put(o, dns->b, dns->n);
}

static void put_ipv4(struct bytes *o, const struct spec *s, const struct bytes *l4)
{
	size_t hl = 20 + s->v4_optlen;

	put8(o, (uint8_t)(0x40 | hl / 4));
	put8(o, 0);
	put16(o, (uint16_t)(hl + l4->n));
	put16(o, 7);
	put16(o, s->v4_frag);
	put8(o, 64);
	put8(o, (uint8_t)s->proto);
	put16(o, 0);
	put32(o, 0xc0000201);   /* 192.0.2.1 */
	put32(o, 0xc6336401);   /* 198.51.100.1 */
	for (unsigned i = 0; i < s->v4_optlen; i++)
		put8(o, i + 1 == s->v4_optlen ? 0 : 1);        /* NOPs, then EOL */
	put(o, l4->b, l4->n);
}

static void put_v6_ext(struct bytes *o, uint8_t type, uint8_t next, uint16_t frag)
{
	put8(o, next);
	switch (type) {
	case V6_FRAG:
		put8(o, 0);
		put16(o, frag);
		put32(o, 0xabcd);
		break;
	case V6_AH:
		put8(o, 2);             /* (2 + 2) * 4 = 16 bytes */
		zeros(o, 14);
		break;
	default:
		put8(o, 1);             /* (1 + 1) * 8 = 16 bytes */
		put8(o, 1);             /* PadN option covering the rest */
		put8(o, 12);
		zeros(o, 12);
	}
}

static void put_ipv6(struct bytes *o, const struct spec *s, const struct bytes *l4)
{
	struct bytes ext = { .n = 0 };
	static const uint8_t v6src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t v6dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x53, [15] = 0x53 };

	for (size_t i = 0; i < s->n_v6_ext; i++)
		put_v6_ext(&ext, s->v6_ext[i], i + 1 < s->n_v6_ext ? s->v6_ext[i + 1] : (uint8_t)s->proto,
			   s->v6_frag);
	put32(o, 0x60000000);
	put16(o, (uint16_t)(ext.n + l4->n));
	put8(o, s->n_v6_ext ? s->v6_ext[0] : (uint8_t)s->proto);
	put8(o, 64);
	put(o, v6src, 16);
	put(o, v6dst, 16);
	put(o, ext.b, ext.n);
	put(o, l4->b, l4->n);
}

static void put_ethertype_and_tags(struct bytes *o, const struct spec *s, uint16_t type)
{
	if (s->vlans >= 2) {
		put16(o, 0x88a8);
		put16(o, 100);
	}
	if (s->vlans >= 1) {
		put16(o, 0x8100);
		put16(o, 200);
	}
	put16(o, type);
}

static void put_link(struct bytes *o, const struct spec *s, const struct bytes *l3)
{
	uint16_t type = s->family == 6 ? 0x86dd : 0x0800;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

	switch (s->link) {
	case DNS_LINK_EN10MB:
		put(o, mac, 6);
		put(o, mac, 6);
		put_ethertype_and_tags(o, s, type);
		break;
	case DNS_LINK_LINUX_SLL:
		put16(o, 0);            /* to us */
		put16(o, 1);            /* ARPHRD_ETHER */
		put16(o, 6);
		put(o, mac, 6);
		put16(o, 0);
		put_ethertype_and_tags(o, s, type);
		break;
	case DNS_LINK_LINUX_SLL2:
		put16(o, type);
		put16(o, 0);
		put32(o, 7);            /* ifindex */
		put16(o, 1);
		put8(o, 0);             /* to us */
		put8(o, 6);
		put(o, mac, 6);
		put16(o, 0);
		break;
	case DNS_LINK_NULL:        /* host order on the capturing machine: little endian here */
		put32(o, s->family == 6 ? 0x1e000000 : 0x02000000);
		break;
	case DNS_LINK_LOOP:
		put32(o, s->family == 6 ? 24 : 2);
		break;
	default:                        /* raw IP: no link header */
		break;
	}
	put(o, l3->b, l3->n);
	zeros(o, s->pad);
}

/* Default ports: a client asking port 53. */
static void build(const struct spec *in, const struct bytes *dns, struct bytes *out)
{
	struct spec s = *in;
	struct bytes l4 = { .n = 0 }, l3 = { .n = 0 };

	if (!s.sport && !s.dport) {
		s.sport = 40000;
		s.dport = 53;
	}
	put_transport(&l4, &s, dns);
	if (s.family == 6)
		put_ipv6(&l3, &s, &l4);
	else
		put_ipv4(&l3, &s, &l4);
	out->n = 0;
	put_link(out, &s, &l3);
}

/* ---- good packets: every link type, IP option, extension header ------ */

static const uint8_t ext_all[] = { V6_HOP, V6_DST, V6_ROUTING, V6_AH, V6_FRAG, V6_DST };
static const uint8_t ext_hop[] = { V6_HOP };

static void test_good_one(const char *desc, const struct spec *s)
{
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;
	enum dns_error e;

	dns_query(&dns, "www.Example.com", 28, true);
	build(s, &dns, &pkt);
	e = dns_parse_packet(s->link, pkt.b, pkt.n, &p);
	if (e != DNS_OK)
		fail_msg("%s: %s", desc, dns_error_to_string(e));
	assert_int_equal(p.family, s->family == 6 ? AF_INET6 : AF_INET);
	assert_int_equal(p.proto, s->proto);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.hdr.id, 0x1234);
	assert_false(p.hdr.qr);
	assert_true(p.hdr.rd);
	assert_true(p.has_question);
	assert_string_equal(dns_name_text(&p.qname), "www.Example.com");
	assert_int_equal(p.qname.wire_len, 17);
	assert_int_equal(p.qtype, 28);
	assert_int_equal(p.qclass, 1);
	assert_true(p.edns);
	assert_int_equal(p.edns_udp_size, 1232);
	assert_true(p.edns_do);
	assert_int_equal(p.rr_error, DNS_OK);
	assert_int_equal(p.dns_len, dns.n);
	if (s->family == 4)
		assert_memory_equal(p.src, "\xc0\x00\x02\x01", 4);
	else
		assert_int_equal(p.dst[15], 0x53);
}

static void test_good(void **state)
{
	static const struct {
		const char *desc;
		struct spec s;
	} cases[] = {
		{ "ethernet ipv4 udp", { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_UDP } },
		{ "ethernet ipv6 udp", { .link = DNS_LINK_EN10MB, .family = 6, .proto = IPPROTO_UDP } },
		{ "ethernet ipv4 tcp", { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_TCP } },
		{ "ethernet ipv6 tcp", { .link = DNS_LINK_EN10MB, .family = 6, .proto = IPPROTO_TCP } },
		{ "ethernet padded", { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_UDP, .pad = 18 } },
		{ "802.1Q", { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_UDP, .vlans = 1 } },
		{ "802.1ad+802.1Q", { .link = DNS_LINK_EN10MB, .family = 6, .proto = IPPROTO_TCP, .vlans = 2 } },
		{ "sll ipv4", { .link = DNS_LINK_LINUX_SLL, .family = 4, .proto = IPPROTO_UDP } },
		{ "sll vlan ipv6", { .link = DNS_LINK_LINUX_SLL, .family = 6, .proto = IPPROTO_UDP, .vlans = 1 } },
		{ "sll2 ipv4", { .link = DNS_LINK_LINUX_SLL2, .family = 4, .proto = IPPROTO_UDP } },
		{ "sll2 ipv6 tcp", { .link = DNS_LINK_LINUX_SLL2, .family = 6, .proto = IPPROTO_TCP } },
		{ "raw ipv4", { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP } },
		{ "raw ipv6", { .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP } },
		{ "linktype raw 101", { .link = DNS_LINK_RAW_FILE, .family = 6, .proto = IPPROTO_TCP } },
		{ "ipv4 link", { .link = DNS_LINK_IPV4, .family = 4, .proto = IPPROTO_UDP } },
		{ "ipv6 link", { .link = DNS_LINK_IPV6, .family = 6, .proto = IPPROTO_UDP } },
		{ "null ipv4", { .link = DNS_LINK_NULL, .family = 4, .proto = IPPROTO_UDP } },
		{ "null ipv6 (BSD 30)", { .link = DNS_LINK_NULL, .family = 6, .proto = IPPROTO_UDP } },
		{ "loop ipv6 (24)", { .link = DNS_LINK_LOOP, .family = 6, .proto = IPPROTO_UDP } },
		{ "ipv4 options", { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP, .v4_optlen = 40 } },
		{ "ipv4 options tcp", { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_TCP, .v4_optlen = 8 } },
		{ "ipv4 first fragment", { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP, .v4_frag = 0x2000 } },
		{ "ipv4 DF", { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP, .v4_frag = 0x4000 } },
		{ "ipv6 hop-by-hop", { .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP,
				       .v6_ext = ext_hop, .n_v6_ext = 1 } },
		{ "ipv6 hop,dst,routing,ah,frag,dst", { .link = DNS_LINK_EN10MB, .family = 6, .proto = IPPROTO_UDP,
				       .v6_ext = ext_all, .n_v6_ext = 6, .v6_frag = 1 } },
		{ "ipv6 ext tcp", { .link = DNS_LINK_LINUX_SLL2, .family = 6, .proto = IPPROTO_TCP,
				    .v6_ext = ext_all, .n_v6_ext = 6 } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_good_one(cases[i].desc, &cases[i].s);
}

/* dns_parse_packet() renders the name; the _notext variant leaves it to
 * dns_name_text(), which gives the same text. */
static void test_text_on_demand(void **state)
{
	struct spec s = { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	dns_query(&dns, "a.B.c", 1, false);
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_string_equal(p.qname.text, "a.B.c");
	assert_int_equal(p.qname.text_len, 5);
	assert_int_equal(dns_parse_packet_notext(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.qname.text_len, 0);
	assert_string_equal(p.qname.text, "");
	assert_string_equal(dns_name_text(&p.qname), "a.B.c");
	assert_int_equal(p.qname.text_len, 5);
}

static void test_link_details(void **state)
{
	struct spec s = { .link = DNS_LINK_LINUX_SLL2, .family = 4, .proto = IPPROTO_UDP };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	dns_query(&dns, "a.b", 1, false);
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.ifindex, 7);
	assert_int_equal(p.pkttype, DNS_PKTTYPE_HOST);
	assert_false(p.edns);

	s.link = DNS_LINK_EN10MB;
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.pkttype, DNS_PKTTYPE_UNKNOWN);
	assert_int_equal(p.ifindex, 0);

	/* A first fragment is read as far as it goes. */
	s = (struct spec){ .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP, .v6_ext = ext_all,
			   .n_v6_ext = 6, .v6_frag = 1 };
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_true(p.first_fragment);
}

/* What tells two copies of one packet from two packets: IP ID and length. */
static void test_copy_keys(void **state)
{
	struct spec s = { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP, .sport = 40000, .dport = 53 };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	dns_query(&dns, "a.b", 1, false);
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.ip_id, 7);
	assert_int_equal(p.ip_len, pkt.n);

	/* IPv6: the flow label and the payload length (extension headers in it). */
	s = (struct spec){ .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP, .v6_ext = ext_hop,
			   .n_v6_ext = 1, .sport = 40000, .dport = 53 };
	build(&s, &dns, &pkt);
	pkt.b[1] = 0x01;
	pkt.b[2] = 0x23;
	pkt.b[3] = 0x45;
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.ip_id, 0x12345);
	assert_int_equal(p.ip_len, pkt.n - 40);
	/* The traffic class next to it is not part of the label. */
	pkt.b[0] = 0x6f;
	pkt.b[1] = 0xf1;
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_int_equal(p.ip_id, 0x12345);
}

/* ---- malformed and foreign packets: one break each ------------------- */

typedef void (*mutate_fn)(struct bytes *b);

/* Offsets in the base packet: raw IPv4, UDP at 20, DNS at 28; the name
 * "www.example.com" at 40..56, QTYPE at 57. TCP: DNS length at 40. */
static void cut_link_eth(struct bytes *b) { b->n = 13; }
static void cut_ip(struct bytes *b) { b->n = 19; }
static void ip_v5(struct bytes *b) { b->b[0] = 0x55; }
static void ip_ihl4(struct bytes *b) { b->b[0] = 0x44; }
static void ip_ihl15(struct bytes *b) { b->b[0] = 0x4f; b->n = 50; }
static void ip_total_short(struct bytes *b) { b->b[2] = 0; b->b[3] = 19; }
static void ip_frag_later(struct bytes *b) { b->b[6] = 0x20; b->b[7] = 0xb9; }
static void ip_icmp(struct bytes *b) { b->b[9] = 1; }
static void cut_udp(struct bytes *b) { b->n = 27; }
static void udp_len_short(struct bytes *b) { b->b[24] = 0; b->b[25] = 7; }
static void udp_other_ports(struct bytes *b) { b->b[22] = 0x14; b->b[23] = 0xe9; }       /* 40000 -> 5353 */
static void cut_dns_header(struct bytes *b) { b->n = 39; b->b[24] = 0; b->b[25] = 19; }
static void label_0x40(struct bytes *b) { b->b[40] = 0x43; }
static void label_0x80(struct bytes *b) { b->b[44] = 0x87; }
static void forward_pointer(struct bytes *b) { b->b[40] = 0xc0; b->b[41] = 50; }
static void self_pointer(struct bytes *b) { b->b[44] = 0xc0; b->b[45] = 44 - 28; }
static void pointer_into_name(struct bytes *b) { b->b[44] = 0xc0; b->b[45] = 40 - 28; }
static void cut_name(struct bytes *b) { b->n = 50; }
static void cut_question(struct bytes *b) { b->n = 59; }
static void cut_ext(struct bytes *b) { b->n = 44; }
static void tcp_doff_short(struct bytes *b) { b->b[32] = 0x40; }
static void tcp_doff_long(struct bytes *b) { b->b[32] = 0xf0; }
static void tcp_no_payload(struct bytes *b) { b->n = 40; b->b[2] = 0; b->b[3] = 40; }
static void tcp_one_byte(struct bytes *b) { b->n = 41; b->b[2] = 0; b->b[3] = 41; }
static void tcp_len_short(struct bytes *b) { b->b[40] = 0; b->b[41] = 11; }
static void tcp_cut_header(struct bytes *b) { b->n = 39; b->b[2] = 0; b->b[3] = 39; }

static void test_bad_one(const char *desc, const struct spec *s, mutate_fn mutate, enum dns_error expect)
{
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;
	enum dns_error e;

	dns_query(&dns, "www.example.com", 1, false);
	build(s, &dns, &pkt);
	mutate(&pkt);
	e = dns_parse_packet(s->link, pkt.b, pkt.n, &p);
	if (e != expect)
		fail_msg("%s: got %s, expected %s", desc, dns_error_to_string(e), dns_error_to_string(expect));
}

static void test_bad(void **state)
{
	static const struct spec raw4 = { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_UDP };
	static const struct spec tcp4 = { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_TCP };
	static const struct spec eth = { .link = DNS_LINK_EN10MB, .family = 4, .proto = IPPROTO_UDP };
	static const struct spec raw6ext = { .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP,
					     .v6_ext = ext_hop, .n_v6_ext = 1 };
	static const struct {
		const char *desc;
		const struct spec *s;
		mutate_fn mutate;
		enum dns_error expect;
	} cases[] = {
		{ "ethernet cut", &eth, cut_link_eth, DNS_ERR_TRUNCATED_LINK },
		{ "ip cut", &raw4, cut_ip, DNS_ERR_TRUNCATED_IP },
		{ "ip version 5", &raw4, ip_v5, DNS_ERR_BAD_IP_HEADER },
		{ "ihl 4", &raw4, ip_ihl4, DNS_ERR_BAD_IP_HEADER },
		{ "ihl past the end", &raw4, ip_ihl15, DNS_ERR_TRUNCATED_IP },
		{ "total length < ihl", &raw4, ip_total_short, DNS_ERR_BAD_IP_HEADER },
		{ "later fragment", &raw4, ip_frag_later, DNS_ERR_FRAGMENT },
		{ "icmp", &raw4, ip_icmp, DNS_ERR_NOT_UDP_TCP },
		{ "udp cut", &raw4, cut_udp, DNS_ERR_TRUNCATED_UDP },
		{ "udp length 7", &raw4, udp_len_short, DNS_ERR_TRUNCATED_UDP },
		{ "not port 53", &raw4, udp_other_ports, DNS_ERR_NOT_DNS_PORT },
		{ "dns header cut", &raw4, cut_dns_header, DNS_ERR_TRUNCATED_DNS_HEADER },
		{ "label type 0x40", &raw4, label_0x40, DNS_ERR_BAD_LABEL_TYPE },
		{ "label type 0x80", &raw4, label_0x80, DNS_ERR_BAD_LABEL_TYPE },
		{ "forward pointer", &raw4, forward_pointer, DNS_ERR_FORWARD_POINTER },
		{ "pointer to itself", &raw4, self_pointer, DNS_ERR_FORWARD_POINTER },
		{ "pointer into its own name", &raw4, pointer_into_name, DNS_ERR_POINTER_LOOP },
		{ "name cut", &raw4, cut_name, DNS_ERR_TRUNCATED_NAME },
		{ "question cut", &raw4, cut_question, DNS_ERR_TRUNCATED_QUESTION },
		{ "ipv6 extension header cut", &raw6ext, cut_ext, DNS_ERR_TRUNCATED_IP },
		{ "tcp header cut", &tcp4, tcp_cut_header, DNS_ERR_TRUNCATED_TCP },
		{ "tcp data offset 4", &tcp4, tcp_doff_short, DNS_ERR_TRUNCATED_TCP },
		{ "tcp data offset past the end", &tcp4, tcp_doff_long, DNS_ERR_TRUNCATED_TCP },
		{ "tcp without payload", &tcp4, tcp_no_payload, DNS_ERR_TCP_NO_PAYLOAD },
		{ "tcp one byte", &tcp4, tcp_one_byte, DNS_ERR_TRUNCATED_TCP },
		{ "tcp length 11", &tcp4, tcp_len_short, DNS_ERR_BAD_TCP_LENGTH },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_bad_one(cases[i].desc, cases[i].s, cases[i].mutate, cases[i].expect);
}

static void test_bad_link(void **state)
{
	static const uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 };
	static const uint8_t llc[60] = { [12] = 0x00, [13] = 0x40 };
	static const uint8_t sll_short[15] = { 0 };
	static const uint8_t sll2_short[19] = { 0 };
	static const uint8_t null_af[24] = { 7, 0, 0, 0, 0x45 };
	static const uint8_t raw_v3[20] = { 0x30 };
	uint8_t vlans[14 + 5 * 4 + 20] = { [12] = 0x81, [13] = 0x00 };
	struct dns_packet p;

	(void)state;
	for (int i = 0; i < 5; i++) {
		vlans[14 + i * 4 + 2] = 0x81;
		vlans[14 + i * 4 + 3] = 0x00;
	}
	assert_int_equal(dns_parse_packet(DNS_LINK_EN10MB, arp, sizeof(arp), &p), DNS_ERR_NOT_IP);
	assert_int_equal(dns_parse_packet(DNS_LINK_EN10MB, llc, sizeof(llc), &p), DNS_ERR_NOT_IP);
	assert_int_equal(dns_parse_packet(DNS_LINK_EN10MB, vlans, sizeof(vlans), &p), DNS_ERR_NOT_IP);
	assert_int_equal(dns_parse_packet(DNS_LINK_EN10MB, vlans, 16, &p), DNS_ERR_TRUNCATED_LINK);
	assert_int_equal(dns_parse_packet(DNS_LINK_LINUX_SLL, sll_short, sizeof(sll_short), &p),
			 DNS_ERR_TRUNCATED_LINK);
	assert_int_equal(dns_parse_packet(DNS_LINK_LINUX_SLL2, sll2_short, sizeof(sll2_short), &p),
			 DNS_ERR_TRUNCATED_LINK);
	assert_int_equal(dns_parse_packet(DNS_LINK_NULL, null_af, 3, &p), DNS_ERR_TRUNCATED_LINK);
	assert_int_equal(dns_parse_packet(DNS_LINK_NULL, null_af, sizeof(null_af), &p), DNS_ERR_NOT_IP);
	assert_int_equal(dns_parse_packet(DNS_LINK_RAW, raw_v3, sizeof(raw_v3), &p), DNS_ERR_BAD_IP_HEADER);
	assert_int_equal(dns_parse_packet(DNS_LINK_RAW, raw_v3, 0, &p), DNS_ERR_TRUNCATED_IP);
	assert_int_equal(dns_parse_packet(DNS_LINK_IPV4, raw_v3, sizeof(raw_v3), &p), DNS_ERR_BAD_IP_HEADER);
	assert_int_equal(dns_parse_packet(DNS_LINK_IPV6, raw_v3, sizeof(raw_v3), &p), DNS_ERR_TRUNCATED_IP);
	assert_int_equal(dns_parse_packet(105, raw_v3, sizeof(raw_v3), &p), DNS_ERR_UNSUPPORTED_LINK);
}

static void test_ipv6_limits(void **state)
{
	static const uint8_t nine[9] = { V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST };
	static const uint8_t eight[8] = { V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST, V6_DST };
	static const uint8_t frag[1] = { V6_FRAG };
	struct spec s = { .link = DNS_LINK_RAW, .family = 6, .proto = IPPROTO_UDP };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	dns_query(&dns, "x", 1, false);
	s.v6_ext = eight;
	s.n_v6_ext = 8;
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	s.v6_ext = nine;
	s.n_v6_ext = 9;
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_ERR_TOO_MANY_EXT_HEADERS);
	s.v6_ext = frag;
	s.n_v6_ext = 1;
	s.v6_frag = 0x0008;     /* offset 1 (8 bytes): not the first */
	build(&s, &dns, &pkt);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_ERR_FRAGMENT);
}

/* ---- names: limits, compression, presentation ------------------------ */

/* A message with the question name given as raw wire bytes. */
static enum dns_error parse_question_wire(const uint8_t *name, size_t n, struct dns_packet *p)
{
	struct bytes m = { .n = 0 };

	put_header(&m, 1, 0, 1, 0, 0, 0);
	put(&m, name, n);
	put16(&m, 1);
	put16(&m, 1);
	return dns_parse_message(m.b, m.n, false, p);
}

static void test_name_length_one(unsigned l4, size_t expect_wire, enum dns_error expect)
{
	const unsigned labels[4] = { 63, 63, 63, l4 };
	struct bytes name = { .n = 0 };
	struct dns_packet *p = malloc(sizeof(*p));
	enum dns_error e;

	assert_non_null(p);
	put_long_name(&name, labels, 4);
	assert_int_equal(name.n, expect_wire);
	e = parse_question_wire(name.b, name.n, p);
	if (e != expect)
		fail_msg("wire length %zu: %s, expected %s", name.n, dns_error_to_string(e), dns_error_to_string(expect));
	if (e == DNS_OK) {
		assert_int_equal(p->qname.wire_len, expect_wire);
		/* Presentation length: the wire form less the first length octet
		 * and the root: 253 characters for the longest name. */
		assert_int_equal(p->qname.text_len, expect_wire - 2);
		assert_int_equal(strlen(p->qname.text), expect_wire - 2);
	}
	free(p);
}

/* RFC 1035 counts the wire form, length octets and root label included:
 * 255 is the limit, which is 253 characters of presentation text. */
static void test_name_length(void **state)
{
	(void)state;
	test_name_length_one(59, 253, DNS_OK);          /* 251 characters */
	test_name_length_one(61, 255, DNS_OK);          /* 253 characters: the longest */
	test_name_length_one(62, 256, DNS_ERR_NAME_TOO_LONG);   /* 254 characters */
	test_name_length_one(63, 257, DNS_ERR_NAME_TOO_LONG);
}

/* A name that only grows too long by following a pointer. */
static void test_name_length_compressed(void **state)
{
	const unsigned first[3] = { 63, 63, 63 };       /* 193 bytes at offset 12 */
	const unsigned second[1] = { 62 };
	struct bytes m = { .n = 0 }, tail = { .n = 0 };
	struct dns_name *n = malloc(sizeof(*n));
	size_t off;

	(void)state;
	assert_non_null(n);
	put_header(&m, 1, 0, 2, 0, 0, 0);
	put_long_name(&m, first, 3);
	off = m.n;
	put_long_name(&tail, second, 1);        /* 62-byte label, then pointer to 12 */
	put(&m, tail.b, tail.n - 1);
	put16(&m, 0xc000 | 12);
	assert_int_equal(dns_parse_name(m.b, m.n, &off, n), DNS_ERR_NAME_TOO_LONG);

	/* One byte shorter fits exactly: 63 + 193 - 1 = 255. */
	m.n = 0;
	put_header(&m, 1, 0, 2, 0, 0, 0);
	put_long_name(&m, first, 3);
	off = m.n;
	put8(&m, 61);
	for (int i = 0; i < 61; i++)
		put8(&m, 'x');
	put16(&m, 0xc000 | 12);
	assert_int_equal(dns_parse_name(m.b, m.n, &off, n), DNS_OK);
	assert_int_equal(n->wire_len, 255);
	assert_int_equal(off, m.n);
	free(n);
}

static void test_compression(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_name n;
	size_t off, start;

	(void)state;
	put_header(&m, 1, 0, 1, 0, 0, 0);
	put_name(&m, "example.com");            /* at 12 */
	start = m.n;
	put8(&m, 3);
	put(&m, "www", 3);
	put16(&m, 0xc000 | 12);                 /* www + pointer */
	off = start;
	assert_int_equal(dns_parse_name(m.b, m.n, &off, &n), DNS_OK);
	assert_string_equal(dns_name_text(&n), "www.example.com");
	assert_int_equal(off, start + 6);       /* just past the pointer */

	/* Pointer to a pointer to a name: two jumps, still backwards. */
	start = m.n;
	put16(&m, 0xc000 | (uint16_t)(start - 6));
	off = start;
	assert_int_equal(dns_parse_name(m.b, m.n, &off, &n), DNS_OK);
	assert_string_equal(dns_name_text(&n), "www.example.com");
	assert_int_equal(off, start + 2);

	/* A pointer cut after one byte. */
	m.n = start + 1;
	off = start;
	assert_int_equal(dns_parse_name(m.b, m.n, &off, &n), DNS_ERR_TRUNCATED_NAME);
}

/* 200 pointers, each to the one before it: every jump goes backwards, but
 * no legal name needs more than 127 of them. */
static void test_pointer_chain(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_name n;
	size_t off;

	(void)state;
	put_header(&m, 1, 0, 1, 0, 0, 0);
	put8(&m, 0);                            /* root at 12 */
	for (int i = 0; i < 200; i++)
		put16(&m, (uint16_t)(0xc000 | (m.n - (i == 0 ? 1 : 2))));
	off = m.n - 2;
	assert_int_equal(dns_parse_name(m.b, m.n, &off, &n), DNS_ERR_POINTER_LOOP);
	off = 13 + 2 * 100;                     /* 101 jumps: fine */
	assert_int_equal(dns_parse_name(m.b, m.n, &off, &n), DNS_OK);
	assert_string_equal(dns_name_text(&n), ".");
	assert_int_equal(n.wire_len, 1);
}

static void test_text_one(const uint8_t *wire, size_t n, const char *expect)
{
	char text[DNS_NAME_TEXT_MAX];
	size_t len = dns_name_to_text(wire, n, text);

	assert_string_equal(text, expect);
	assert_int_equal(len, strlen(expect));
}

static void test_text(void **state)
{
	static const uint8_t root[] = { 0 };
	static const uint8_t plain[] = { 3, 'w', 'w', 'w', 1, 'a', 0 };
	static const uint8_t dot[] = { 3, 'a', '.', 'b', 3, 'c', 'o', 'm', 0 };
	static const uint8_t specials[] = { 9, '\\', '"', '(', ')', ';', '@', '$', ' ', '~', 0 };
	static const uint8_t ctl[] = { 10, 'e', 's', 'c', '\n', 0x1b, '[', '3', '1', 'm', 0xff, 0 };
	static const uint8_t nul[] = { 2, 0, 0x7f, 0 };

	(void)state;
	test_text_one(root, sizeof(root), ".");
	test_text_one(plain, sizeof(plain), "www.a");
	test_text_one(dot, sizeof(dot), "a\\.b.com");
	test_text_one(specials, sizeof(specials), "\\\\\\\"\\(\\)\\;\\@\\$\\032~");
	test_text_one(ctl, sizeof(ctl), "esc\\010\\027[31m\\255");
	test_text_one(nul, sizeof(nul), "\\000\\127");
	/* A label longer than the buffer claims stops the rendering. */
	test_text_one((const uint8_t[]){ 5, 'a', 'b' }, 3, ".");
}

/* The worst case fits DNS_NAME_TEXT_MAX: four labels, 250 bytes that all
 * need \DDD. */
static void test_text_worst_case(void **state)
{
	const unsigned labels[4] = { 63, 63, 63, 61 };
	struct bytes name = { .n = 0 };
	struct dns_packet *p = malloc(sizeof(*p));

	(void)state;
	assert_non_null(p);
	put_long_name(&name, labels, 4);
	for (size_t i = 0, k = 0; i < name.n - 1; i++) {
		if (i == k) {
			k += 1 + name.b[i];     /* a length octet */
			continue;
		}
		name.b[i] = 0xfe;
	}
	assert_int_equal(parse_question_wire(name.b, name.n, p), DNS_OK);
	assert_int_equal(strlen(dns_name_text(&p->qname)), 250 * 4 + 3);
	assert_int_equal(p->qname.text_len, 250 * 4 + 3);
	assert_int_equal(p->qname.text_len + 1, DNS_NAME_TEXT_MAX);
	free(p);
}

/* ---- messages: header, sections, EDNS --------------------------------- */

static void test_response(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_packet p;
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_TC | DNS_FLAG_RD | DNS_FLAG_RA |
			 DNS_FLAG_AD | DNS_FLAG_CD | (2 << 11) | 3;

	(void)state;
	put_header(&m, 0xbeef, flags, 1, 1, 1, 2);
	put_name(&m, "host.test.p53");
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 0xc00c);                      /* answer: compressed */
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0x0a350035);
	put16(&m, 0xc011);                      /* authority: test.p53 SOA, rdata skipped */
	put16(&m, 6);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 3);
	put(&m, "abc", 3);
	put_name(&m, "x.test.p53");             /* additional: not an OPT */
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 0);
	put_opt(&m, 4096, false);
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_int_equal(p.hdr.id, 0xbeef);
	assert_true(p.hdr.qr && p.hdr.aa && p.hdr.tc && p.hdr.rd && p.hdr.ra && p.hdr.ad && p.hdr.cd);
	assert_int_equal(p.hdr.opcode, 2);
	assert_int_equal(p.hdr.rcode, 3);
	assert_int_equal(p.hdr.ancount, 1);
	assert_int_equal(p.hdr.arcount, 2);
	assert_true(p.edns);
	assert_int_equal(p.edns_udp_size, 4096);
	assert_false(p.edns_do);
	assert_int_equal(p.rr_error, DNS_OK);

	/* The same message cut inside the OPT record. */
	assert_int_equal(dns_parse_message(m.b, m.n - 3, false, &p), DNS_OK);
	assert_int_equal(p.rr_error, DNS_ERR_TRUNCATED_RR);
	assert_false(p.edns);
	/* ... which is expected when the message is known to be partial. */
	assert_int_equal(dns_parse_message(m.b, m.n - 3, true, &p), DNS_OK);
	assert_int_equal(p.rr_error, DNS_OK);
}

static void test_opt_only_in_additional(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_packet p;

	(void)state;
	put_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	put_name(&m, "a");
	put16(&m, 1);
	put16(&m, 1);
	put_opt(&m, 512, true);                 /* in the answer section */
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_false(p.edns);
	assert_int_equal(p.rr_error, DNS_OK);
}

static void test_no_question(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_packet p;

	(void)state;
	put_header(&m, 9, DNS_FLAG_QR | 1, 0, 0, 0, 1);
	put_opt(&m, 1232, false);
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_false(p.has_question);
	assert_true(p.edns);
	assert_int_equal(p.hdr.rcode, 1);
	assert_int_equal(p.qname.wire_len, 0);
}

static void test_bad_records(void **state)
{
	struct bytes m = { .n = 0 };
	struct dns_packet p;

	(void)state;
	/* Counts that promise more records than there are. */
	put_header(&m, 1, DNS_FLAG_QR, 1, 100, 0, 0);
	put_name(&m, "a");
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_int_equal(p.rr_error, DNS_ERR_TRUNCATED_RR);
	/* A bad label type in an answer's owner name. */
	put8(&m, 0x80);
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_int_equal(p.rr_error, DNS_ERR_BAD_LABEL_TYPE);
	/* Every QDCOUNT and ANCOUNT at 65535 in a short message ends quickly. */
	m.n = 0;
	put_header(&m, 1, 0, 0xffff, 0xffff, 0xffff, 0xffff);
	put_name(&m, "a");
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_message(m.b, m.n, false, &p), DNS_OK);
	assert_int_equal(p.rr_error, DNS_ERR_TRUNCATED_RR);
}

/* A TCP segment that holds only the start of a long message. */
static void test_tcp_partial(void **state)
{
	struct spec s = { .link = DNS_LINK_RAW, .family = 4, .proto = IPPROTO_TCP };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	put_header(&dns, 5, DNS_FLAG_QR, 1, 3, 0, 0);
	put_name(&dns, "big.test.p53");
	put16(&dns, 16);
	put16(&dns, 1);
	build(&s, &dns, &pkt);
	pkt.b[40] = 0x04;                       /* claims 1024 bytes */
	pkt.b[41] = 0x00;
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_string_equal(dns_name_text(&p.qname), "big.test.p53");
	assert_int_equal(p.rr_error, DNS_OK);
	assert_true(p.hdr.qr);
	/* Two messages in one segment: only the first is read. */
	dns.n = 0;
	dns_query(&dns, "one", 1, false);
	put16(&dns, 12);
	put_header(&dns, 2, 0, 0, 0, 0, 0);
	build(&s, &dns, &pkt);
	pkt.b[41] = (uint8_t)(dns.n - 14);
	assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	assert_string_equal(dns_name_text(&p.qname), "one");
	assert_int_equal(p.dns_len, dns.n - 14);
}

static void test_strings(void **state)
{
	(void)state;
	for (int a = 0; a < _DNS_ERR_MAX; a++) {
		assert_non_null(dns_error_to_string(a));
		assert_string_not_equal(dns_error_to_string(a), "unknown");
		for (int b = 0; b < a; b++)
			assert_string_not_equal(dns_error_to_string(a), dns_error_to_string(b));
	}
	assert_string_equal(dns_error_to_string(_DNS_ERR_MAX), "unknown");
	assert_false(dns_error_is_malformed(DNS_OK));
	assert_false(dns_error_is_malformed(DNS_ERR_NOT_DNS_PORT));
	assert_false(dns_error_is_malformed(DNS_ERR_FRAGMENT));
	assert_true(dns_error_is_malformed(DNS_ERR_FORWARD_POINTER));
	assert_string_equal(dns_type_to_string(28), "AAAA");
	assert_null(dns_type_to_string(65280));
	assert_string_equal(dns_rcode_to_string(3), "NXDOMAIN");
	assert_null(dns_rcode_to_string(15));
}

/* Every prefix of a good packet, on every link type, parses or fails by
 * name: the bounds checks hold at each byte. */
static void test_every_prefix(void **state)
{
	static const int links[] = { DNS_LINK_EN10MB, DNS_LINK_LINUX_SLL, DNS_LINK_LINUX_SLL2, DNS_LINK_RAW };
	struct bytes dns = { .n = 0 }, pkt;
	struct dns_packet p;

	(void)state;
	dns_query(&dns, "www.example.com", 1, true);
	for (size_t l = 0; l < sizeof(links) / sizeof(links[0]); l++) {
		struct spec s = { .link = links[l], .family = 6, .proto = IPPROTO_TCP, .v6_ext = ext_all,
				  .n_v6_ext = 6 };

		build(&s, &dns, &pkt);
		for (size_t n = 0; n < pkt.n; n++) {
			/* Exact-size heap copies let ASan see any overread. */
			uint8_t *copy = malloc(n ? n : 1);
			enum dns_error e;

			memcpy(copy, pkt.b, n);
			e = dns_parse_packet(s.link, copy, n, &p);
			assert_true(e < _DNS_ERR_MAX);
			free(copy);
		}
		assert_int_equal(dns_parse_packet(s.link, pkt.b, pkt.n, &p), DNS_OK);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_link_details),
		cmocka_unit_test(test_copy_keys),
		cmocka_unit_test(test_text_on_demand),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bad_link),
		cmocka_unit_test(test_ipv6_limits),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_name_length_compressed),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_pointer_chain),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_worst_case),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_opt_only_in_additional),
		cmocka_unit_test(test_no_question),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_tcp_partial),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_every_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
