/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 prefix. addr is in network byte order; for AF_INET only
 * the first 4 bytes are used. Host bits beyond the prefix are always zero. */
struct cidr {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;         /* 0..32 or 0..128 */
};

/* Longest text cidr_format() writes, with the terminating NUL. */
#define CIDR_STRLEN (46 + 4)

/* Parses "a.b.c.d", "a.b.c.d/n", "x::y" or "x::y/n". A bare address is a
 * host prefix (/32 or /128). Returns 0, -EINVAL for text that is not an
 * address or prefix, -ERANGE for a prefix length out of range, or -EBADMSG
 * when host bits are set below the prefix ("10.0.0.1/24"): such a typo must
 * not silently widen or narrow an allowlist. */
int cidr_parse(const char *s, struct cidr *ret);

/* Writes the canonical text form. Returns buf. */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

/* Number of address bytes for the family: 4 or 16. */
size_t cidr_addr_len(const struct cidr *c);

/* True when addr (family's length, network order) lies inside c. */
bool cidr_contains(const struct cidr *c, int family, const void *addr);

/* Orders by family, then address, then prefix length. */
int cidr_compare(const struct cidr *a, const struct cidr *b);
