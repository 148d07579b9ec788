/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cidr_addr_len(const struct cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}

static int parse_prefix_len(const char *s, unsigned max, uint8_t *ret)
{
	unsigned v = 0;

	/* A leading zero is octal to some tools (iproute2 reads "/010" as /8):
	 * refuse it rather than pick a meaning. */
	if (*s == '\0' || strlen(s) > 3 || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -ERANGE;
	*ret = (uint8_t)v;
	return 0;
}

static bool host_bits_clear(const uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);

		if (addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

int cidr_parse(const char *s, struct cidr *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct cidr c = { 0 };
	char *slash;
	int r;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';

	if (inet_pton(AF_INET, buf, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c.addr) == 1)
		c.family = AF_INET6;
	else
		return -EINVAL;

	c.prefix = c.family == AF_INET ? 32 : 128;
	if (slash) {
		r = parse_prefix_len(slash + 1, c.prefix, &c.prefix);
		if (r < 0)
			return r;
	}
	if (!host_bits_clear(c.addr, cidr_addr_len(&c), c.prefix))
		return -EBADMSG;
	*ret = c;
	return 0;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->prefix);
	return buf;
}

bool cidr_contains(const struct cidr *c, int family, const void *addr)
{
	const uint8_t *p = addr;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (family != c->family)
		return false;
	if (memcmp(p, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((p[full] ^ c->addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

int cidr_compare(const struct cidr *a, const struct cidr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, cidr_addr_len(a));
	if (r)
		return r < 0 ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return 0;
}
