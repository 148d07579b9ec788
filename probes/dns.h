/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A pure, bounded parser for one captured DNS packet: link layer, IPv4/IPv6,
 * UDP/TCP, the DNS header, the first question and whether an EDNS OPT record
 * is present. Bytes in, values out: no I/O, no allocation, no globals.
 *
 * Every byte is treated as hostile: each read is bounds-checked against the
 * captured length, compression pointers must point strictly backwards and
 * every failure is named by an enum dns_error.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types as pcap names them (DLT_*); LINKTYPE_RAW (101) is what pcap
 * files store for raw IP and is accepted as well as DLT_RAW. */
enum {
	DNS_LINK_NULL = 0,              /* BSD loopback, host byte order AF */
	DNS_LINK_EN10MB = 1,            /* Ethernet, 802.1Q/802.1ad tags */
	DNS_LINK_RAW = 12,              /* DLT_RAW on Linux */
	DNS_LINK_RAW_FILE = 101,        /* LINKTYPE_RAW */
	DNS_LINK_LOOP = 108,            /* OpenBSD loopback, network order AF */
	DNS_LINK_LINUX_SLL = 113,
	DNS_LINK_IPV4 = 228,
	DNS_LINK_IPV6 = 229,
	DNS_LINK_LINUX_SLL2 = 276,
};

/* Why a packet was not accounted as a DNS message. DNS_OK is 0; the names
 * (dns_error_to_string) are stable and appear in events and metrics. */
enum dns_error {
	DNS_OK = 0,
	/* not DNS at all, or not a message: counted, but not malformed */
	DNS_ERR_UNSUPPORTED_LINK,       /* link type this parser does not know */
	DNS_ERR_NOT_IP,                 /* ARP, LLC, ... */
	DNS_ERR_NOT_UDP_TCP,            /* ICMP, SCTP, no next header ... */
	DNS_ERR_NOT_DNS_PORT,           /* neither port is 53 */
	DNS_ERR_TCP_NO_PAYLOAD,         /* SYN, ACK, FIN: no DNS bytes */
	DNS_ERR_FRAGMENT,               /* a non-first IP fragment */
	/* malformed: a DNS packet that lies about its own structure */
	DNS_ERR_TRUNCATED_LINK,
	DNS_ERR_TRUNCATED_IP,
	DNS_ERR_BAD_IP_HEADER,          /* version, header length, total length */
	DNS_ERR_TOO_MANY_EXT_HEADERS,   /* IPv6 extension header chain too long */
	DNS_ERR_TRUNCATED_UDP,
	DNS_ERR_TRUNCATED_TCP,
	DNS_ERR_BAD_TCP_LENGTH,         /* 2-byte prefix shorter than a header */
	DNS_ERR_TRUNCATED_DNS_HEADER,
	/* A label length octet has 6 bits, so a label longer than 63 is
	 * one of the 0x40/0x80 types: bad_label_type covers "label too long". */
	DNS_ERR_BAD_LABEL_TYPE,         /* 0x40 / 0x80 label types */
	DNS_ERR_FORWARD_POINTER,        /* points at or after itself */
	DNS_ERR_POINTER_LOOP,           /* points back into the current run, or too many jumps */
	DNS_ERR_NAME_TOO_LONG,          /* more than 255 bytes of wire form */
	DNS_ERR_TRUNCATED_NAME,         /* the name runs off the message */
	DNS_ERR_TRUNCATED_QUESTION,     /* no room for QTYPE and QCLASS */
	DNS_ERR_TRUNCATED_RR,           /* a later record runs off the message */
	_DNS_ERR_MAX,
};

/* True for the reasons that mean "malformed" rather than "not DNS". */
bool dns_error_is_malformed(enum dns_error e);
/* "truncated_ip", "forward_pointer", ...; "ok" for DNS_OK. */
const char *dns_error_to_string(enum dns_error e);

/* Wire form limit (RFC 1035 3.1): 255 bytes counting every length octet and
 * the final root label. In presentation form without a trailing dot and
 * without escapes that is at most 253 characters. */
#define DNS_NAME_WIRE_MAX 255
#define DNS_LABEL_MAX 63
/* Worst case presentation: 4 labels of 250 bytes total, each byte as \DDD,
 * 3 dots and the NUL: 1004. */
#define DNS_NAME_TEXT_MAX 1004

struct dns_name {
	uint8_t wire[DNS_NAME_WIRE_MAX];        /* uncompressed, root label included */
	uint16_t wire_len;                      /* 1 for the root name */
	/* The presentation form, escaped like dig ("." for the root). Filled
	 * by the dns_parse_*() functions; dns_parse_packet_notext() leaves it
	 * empty (text_len 0) for dns_name_text() to render when needed. */
	uint16_t text_len;
	char text[DNS_NAME_TEXT_MAX];
};

/* Header flag bits as they sit in the second 16-bit word. */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u

#define DNS_PORT 53
#define DNS_TYPE_OPT 41
#define DNS_RCODE_REFUSED 5

struct dns_header {
	uint16_t id;
	uint16_t flags;         /* the raw word: DNS_FLAG_*, opcode, rcode */
	bool qr, aa, tc, rd, ra, ad, cd;
	uint8_t opcode;         /* 4 bits */
	uint8_t rcode;          /* 4 bits of the header; EDNS extends it */
	uint16_t qdcount, ancount, nscount, arcount;
};

/* Which packets the link layer says are ours (Linux cooked captures). */
enum {
	DNS_PKTTYPE_UNKNOWN = -1,       /* link type without a direction */
	DNS_PKTTYPE_HOST = 0,
	DNS_PKTTYPE_OUTGOING = 4,
};

struct dns_packet {
	/* link */
	int32_t ifindex;        /* SLL2 only; 0 when unknown (a caller may fill it) */
	int16_t pkttype;        /* SLL/SLL2 packet type or DNS_PKTTYPE_UNKNOWN */
	/* network */
	uint8_t family;         /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];       /* IPv4 in the first 4 bytes */
	bool first_fragment;    /* parsed from the first of several fragments */
	uint16_t ip_len;        /* IPv4 total length, IPv6 payload length */
	uint32_t ip_id;         /* IPv4 identification, IPv6 flow label */
	/* transport */
	uint8_t proto;          /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t sport, dport;
	/* DNS */
	uint16_t dns_len;       /* bytes of the message captured (after the TCP prefix) */
	struct dns_header hdr;
	bool has_question;      /* false when QDCOUNT is 0 */
	struct dns_name qname;
	uint16_t qtype, qclass;
	bool edns;              /* an OPT RR in the additional section */
	uint16_t edns_udp_size;
	bool edns_do;
	/* Set when the question was read but a later record is malformed; the
	 * message is still accounted, and this names the problem. */
	enum dns_error rr_error;
};

/* Parses one captured packet of the given link type. On success fills
 * *ret and returns DNS_OK; otherwise returns the reason and leaves *ret
 * partly written (never read it then). len is the captured length. */
enum dns_error dns_parse_packet(int linktype, const uint8_t *data, size_t len, struct dns_packet *ret);
/* The same without rendering qname.text: for callers that account every
 * packet and print few (the text is a third of the parsing work). */
enum dns_error dns_parse_packet_notext(int linktype, const uint8_t *data, size_t len, struct dns_packet *ret);

/* Parses a DNS message (no transport around it): header, first question,
 * EDNS. partial says the message may be cut short on purpose (a TCP segment
 * that does not hold the whole message), so a truncated record after the
 * question is not an error. */
enum dns_error dns_parse_message(const uint8_t *msg, size_t len, bool partial, struct dns_packet *ret);

/* Reads the (possibly compressed) name at *offset of msg into ret and
 * advances *offset past the name as it sits in the message. */
enum dns_error dns_parse_name(const uint8_t *msg, size_t len, size_t *offset, struct dns_name *ret);

/* Renders wire form as presentation text like dig: labels joined by dots,
 * '.', '\\', '"', '(', ')', ';', '@', '$' in labels get a backslash, bytes
 * outside 0x21..0x7e become \DDD (decimal), no trailing dot, "." for the
 * root. Returns the text length; text must hold DNS_NAME_TEXT_MAX bytes.
 * wire must be well formed (as dns_parse_name leaves it). */
size_t dns_name_to_text(const uint8_t *wire, size_t wire_len, char *text);

/* The presentation form of n (see dns_name_to_text()), rendered into
 * n->text on the first call. */
const char *dns_name_text(struct dns_name *n);

/* "A", "AAAA", ... or NULL for a type without a mnemonic here. */
const char *dns_type_to_string(uint16_t qtype);
/* "NOERROR", "NXDOMAIN", ... or NULL. */
const char *dns_rcode_to_string(uint8_t rcode);
