/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flood-sender: a fast DNS query flood from many spoofed sources, for the
 * flood test (tests/integration/test-flood.sh). It writes whole Ethernet
 * frames on one interface with an AF_PACKET socket, so the sources can be
 * any address of the test's own ranges; the kernel routes nothing and
 * resolves no neighbour, the frames go straight to the peer's MAC.
 *
 *   flood-sender -i IFACE --dst-mac MAC --dst4 A.B.C.D [--dst6 X::Y]
 *                [--queries N] [--sources N] [--src4 A.B.C.0] [--src6 X:Y:Z::]
 *                [--pps N] [--seconds N]
 *
 * Source k (0 <= k < --sources) is IPv4 src4 + k while k < 256 (src4 is a
 * /24), then IPv6 src6 + (k - 256) spread over /64s (src6 is a /48): with
 * the defaults, 256 IPv4 sources (203.0.113.0/24) and 119,744 IPv6 ones
 * (2001:db8:100::/48). The documentation ranges hold only three IPv4 /24s,
 * so the many sources are IPv6 ones. Queries go to the sources
 * round robin, with 1,024 different names and A, AAAA, MX and TXT types;
 * every checksum is right, so nothing is dropped for being malformed.
 * Prints one line: sent, distinct sources of each family, seconds and rate.
 * It refuses addresses outside the documentation ranges (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): the test must never be
 * able to aim it at anything but its own namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_MAX 256
#define N_NAMES 1024
#define V4_SOURCES_MAX 256u

struct opts {
	const char *ifname;
	uint8_t dst_mac[6];
	struct in_addr dst4, src4;
	struct in6_addr dst6, src6;
	bool have_dst6;
	uint64_t queries;
	uint64_t sources;
	uint64_t pps;           /* 0: as fast as the socket takes them */
	unsigned seconds;       /* hard bound on the run */
};

struct sender {
	int fd;
	int ifindex;
	uint8_t src_mac[6];
};

/* ---- checksums ---- */

static uint32_t sum16(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- one frame ---- */

/* A standard query for "q<n>.flood.test.p53" with the given type. */
static size_t dns_query(uint8_t *p, uint16_t id, unsigned name, uint16_t qtype)
{
	char label[16];
	size_t off = 12;
	int n = snprintf(label, sizeof(label), "q%u", name);

	memset(p, 0, 12);
	put16(p, id);
	put16(p + 2, 0x0100);   /* RD */
	put16(p + 4, 1);
	p[off++] = (uint8_t)n;
	memcpy(p + off, label, (size_t)n);
	off += (size_t)n;
	memcpy(p + off, "\005flood\004test\003p53\000", 16);
	off += 16;
	put16(p + off, qtype);
	put16(p + off + 2, 1);
	return off + 4;
}

static void source_addr(const struct opts *o, uint64_t k, bool *v6, struct in_addr *a4, struct in6_addr *a6)
{
	*v6 = k >= V4_SOURCES_MAX;
	if (!*v6) {
		a4->s_addr = htonl(ntohl(o->src4.s_addr) + (uint32_t)k);
		return;
	}
	k -= V4_SOURCES_MAX;
	*a6 = o->src6;
	/* 2001:db8:100:MMHH::1LL (k = HHMMLL): 256 addresses per /64, and the
	 * middle byte of k picks the /56, so the traffic tables' /56 folding
	 * sees hundreds of networks too. */
	a6->s6_addr[6] = (uint8_t)(k >> 8);
	a6->s6_addr[7] = (uint8_t)(k >> 16);
	a6->s6_addr[13] = 1;    /* never the subnet-router anycast address */
	a6->s6_addr[15] = (uint8_t)k;
}

static size_t build_frame(const struct opts *o, const struct sender *s, uint64_t q, uint8_t *f)
{
	static const uint16_t types[] = { 1, 1, 28, 1, 15, 16, 1, 28 };
	uint64_t k = q % o->sources;
	bool v6;
	struct in_addr a4;
	struct in6_addr a6;
	uint8_t *ip = f + 14, *udp;
	size_t dlen, ulen;
	uint32_t sum;

	source_addr(o, k, &v6, &a4, &a6);
	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, s->src_mac, 6);
	put16(f + 12, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
	udp = ip + (v6 ? 40 : 20);
	dlen = dns_query(udp + 8, (uint16_t)q, (unsigned)(q % N_NAMES), types[q % 8]);
	ulen = 8 + dlen;
	put16(udp, (uint16_t)(1024 + q % 60000));
	put16(udp + 2, 53);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	if (v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, &a6, 16);
		memcpy(ip + 24, &o->dst6, 16);
		sum = sum16(0, ip + 8, 32);
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + ulen));
		put16(ip + 4, (uint16_t)q);
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &a4, 4);
		memcpy(ip + 16, &o->dst4, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
		sum = sum16(0, ip + 12, 8);
	}
	sum += IPPROTO_UDP + (uint32_t)ulen;
	sum = sum16(sum, udp, ulen);
	put16(udp + 6, fold(sum) ? fold(sum) : 0xffff);
	return (size_t)(udp + ulen - f);
}

/* ---- the socket ---- */

static int sender_open(const char *ifname, struct sender *s)
{
	struct ifreq ifr = { 0 };
	int one = 1;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s->fd, SIOCGIFINDEX, &ifr) < 0)
		goto fail;
	s->ifindex = ifr.ifr_ifindex;
	if (ioctl(s->fd, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	memcpy(s->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	/* Straight to the driver: the qdisc would only add a queue to drop in. */
	(void)setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return 0;
fail:
	one = -errno;
	close(s->fd);
	return one;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sends every query; returns how many went out, stops at the time bound. */
static uint64_t flood(const struct opts *o, const struct sender *s)
{
	static uint8_t frames[BATCH][FRAME_MAX];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = s->ifindex, .sll_halen = 6 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t sent = 0, t0 = now_ns(), deadline = t0 + (uint64_t)o->seconds * 1000000000u;

	memcpy(to.sll_addr, o->dst_mac, 6);
	while (sent < o->queries) {
		unsigned n = o->queries - sent < BATCH ? (unsigned)(o->queries - sent) : BATCH;
		int r;

		for (unsigned i = 0; i < n; i++) {
			iov[i].iov_base = frames[i];
			iov[i].iov_len = build_frame(o, s, sent + i, frames[i]);
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to),
								  .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		r = sendmmsg(s->fd, msgs, n, 0);
		if (r < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)) {
			r = 0;
			usleep(100);
		} else if (r < 0) {
			perror("sendmmsg");
			break;
		}
		sent += (unsigned)r;
		if (now_ns() > deadline) {
			fprintf(stderr, "flood-sender: time bound of %u s reached\n", o->seconds);
			break;
		}
		if (o->pps) {
			uint64_t due = t0 + sent * 1000000000u / o->pps, t = now_ns();

			if (due > t)
				usleep((useconds_t)((due - t) / 1000));
		}
	}
	return sent;
}

/* ---- options ---- */

static bool parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return false;
		mac[i] = (uint8_t)v[i];
	}
	return true;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*ret = v;
	return true;
}

/* Documentation ranges only: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
 * (RFC 5737) and 2001:db8::/32 (RFC 3849). */
static bool doc4(const struct in_addr *a)
{
	uint32_t net = ntohl(a->s_addr) >> 8;

	return net == 0xc00002 || net == 0xc63364 || net == 0xcb0071;
}

static bool doc6(const struct in6_addr *a)
{
	static const uint8_t pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	return memcmp(a->s6_addr, pfx, sizeof(pfx)) == 0;
}

static void usage(FILE *f)
{
	fputs("usage: flood-sender -i IFACE --dst-mac MAC --dst4 ADDR [--dst6 ADDR] [--queries N]\n"
	      "                    [--sources N] [--src4 ADDR] [--src6 ADDR] [--pps N] [--seconds N]\n", f);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "iface", required_argument, NULL, 'i' }, { "dst-mac", required_argument, NULL, 'm' },
		{ "dst4", required_argument, NULL, '4' }, { "dst6", required_argument, NULL, '6' },
		{ "src4", required_argument, NULL, 's' }, { "src6", required_argument, NULL, 'S' },
		{ "queries", required_argument, NULL, 'q' }, { "sources", required_argument, NULL, 'n' },
		{ "pps", required_argument, NULL, 'p' }, { "seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	bool mac = false, dst4 = false, ok = true;
	uint64_t secs = 120;
	int c;

	*o = (struct opts){ .queries = 1000000, .sources = 120000 };
	inet_pton(AF_INET, "203.0.113.0", &o->src4);
	inet_pton(AF_INET6, "2001:db8:100::", &o->src6);
	while ((c = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o->ifname = optarg; break;
		case 'm': ok = mac = parse_mac(optarg, o->dst_mac); break;
		case '4': ok = dst4 = inet_pton(AF_INET, optarg, &o->dst4) == 1; break;
		case '6': ok = o->have_dst6 = inet_pton(AF_INET6, optarg, &o->dst6) == 1; break;
		case 's': ok = inet_pton(AF_INET, optarg, &o->src4) == 1; break;
		case 'S': ok = inet_pton(AF_INET6, optarg, &o->src6) == 1; break;
		case 'q': ok = parse_u64(optarg, &o->queries); break;
		case 'n': ok = parse_u64(optarg, &o->sources) && o->sources > 0; break;
		case 'p': ok = parse_u64(optarg, &o->pps); break;
		case 't': ok = parse_u64(optarg, &secs) && secs > 0 && secs <= 3600; break;
		case 'h': usage(stdout); exit(0);
		default: ok = false; break;
		}
		if (!ok) {
			fprintf(stderr, "flood-sender: bad value for option -%c: %s\n", c, optarg ? optarg : "");
			return -EINVAL;
		}
	}
	o->seconds = (unsigned)secs;
	if (optind != argc || !o->ifname || !mac || !dst4) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->sources > V4_SOURCES_MAX && !o->have_dst6) {
		fputs("flood-sender: more than 256 sources needs --dst6\n", stderr);
		return -EINVAL;
	}
	/* The 8-bit IPv4 index and 24-bit IPv6 index must stay inside the ranges. */
	if ((ntohl(o->src4.s_addr) & 0xff) || o->sources > V4_SOURCES_MAX + (1u << 24) ||
	    !doc4(&o->src4) || !doc4(&o->dst4) ||
	    (o->have_dst6 && (!doc6(&o->src6) || !doc6(&o->dst6)))) {
		fputs("flood-sender: addresses must be in the documentation ranges 192.0.2.0/24,\n"
		      "  198.51.100.0/24, 203.0.113.0/24 (src4 a whole /24) and 2001:db8::/32\n", stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sender s;
	uint64_t t0, sent, n4, n6;
	double secs;
	int r;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	r = sender_open(o.ifname, &s);
	if (r < 0) {
		fprintf(stderr, "flood-sender: %s: %s\n", o.ifname, strerror(-r));
		return 1;
	}
	t0 = now_ns();
	sent = flood(&o, &s);
	secs = (double)(now_ns() - t0) / 1e9;
	close(s.fd);
	n4 = o.sources < V4_SOURCES_MAX ? o.sources : V4_SOURCES_MAX;
	n6 = o.sources - n4;
	if (sent < o.sources) {
		/* Fewer queries than sources: only the first `sent` were used. */
		n4 = sent < n4 ? sent : n4;
		n6 = sent - n4;
	}
	printf("sent=%llu sources4=%llu sources6=%llu seconds=%.3f pps=%.0f\n", (unsigned long long)sent,
	       (unsigned long long)n4, (unsigned long long)n6, secs, secs > 0 ? (double)sent / secs : 0.0);
	return sent == o.queries ? 0 : 1;
}
