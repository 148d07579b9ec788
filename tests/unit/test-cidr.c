/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"

/* ---- parse and format ---- */

static void test_parse_one(const char *in, int expect_ret, const char *expect_text)
{
	struct cidr c, sentinel;
	char buf[CIDR_STRLEN];
	int r;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	c = sentinel;
	r = cidr_parse(in, &c);
	if (r != expect_ret)
		fail_msg("cidr_parse(\"%s\") = %d, expected %d", in ? in : "(null)", r, expect_ret);
	if (r < 0) {
		/* ret_ is set only on success */
		assert_memory_equal(&c, &sentinel, sizeof(c));
		return;
	}
	cidr_format(&c, buf, sizeof(buf));
	if (strcmp(buf, expect_text) != 0)
		fail_msg("cidr_format(cidr_parse(\"%s\")) = \"%s\", expected \"%s\"", in, buf, expect_text);
	/* The canonical form parses back to the same prefix. */
	{
		struct cidr again;

		assert_int_equal(cidr_parse(buf, &again), 0);
		assert_int_equal(cidr_compare(&c, &again), 0);
		assert_memory_equal(&c, &again, sizeof(c));
	}
}

static void test_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *text;
	} cases[] = {
		/* IPv4 */
		{ "10.0.0.0/8", 0, "10.0.0.0/8" },
		{ "0.0.0.0/0", 0, "0.0.0.0/0" },
		{ "1.2.3.4", 0, "1.2.3.4/32" },
		{ "1.2.3.4/32", 0, "1.2.3.4/32" },
		{ "255.255.255.255/32", 0, "255.255.255.255/32" },
		{ "128.0.0.0/1", 0, "128.0.0.0/1" },
		{ "10.53.1.128/25", 0, "10.53.1.128/25" },
		{ "10.0.0.1/24", -EBADMSG, NULL },
		{ "1.0.0.0/0", -EBADMSG, NULL },
		{ "10.53.1.129/25", -EBADMSG, NULL },
		{ "1.2.3.4/33", -ERANGE, NULL },
		{ "1.2.3.4/999", -ERANGE, NULL },
		{ "1.2.3.4/", -EINVAL, NULL },
		{ "1.2.3.4/1000", -EINVAL, NULL },
		{ "1.2.3.4/-1", -EINVAL, NULL },
		{ "1.2.3.4/+8", -EINVAL, NULL },
		{ "1.2.3.4/ 8", -EINVAL, NULL },
		{ "1.2.3.4/8 ", -EINVAL, NULL },
		{ "1.2.3.4/0x8", -EINVAL, NULL },
		{ "1.2.3.4/32/32", -EINVAL, NULL },
		/* A leading zero reads as octal elsewhere (iproute2: "/010" is /8). */
		{ "10.0.0.0/08", -EINVAL, NULL },
		{ "10.0.0.0/010", -EINVAL, NULL },
		{ "1.2.3.4/032", -EINVAL, NULL },
		{ "010.1.2.3", -EINVAL, NULL },
		{ "1.2.3.04", -EINVAL, NULL },
		{ "1.2.3", -EINVAL, NULL },
		{ "1.2.3.4.5", -EINVAL, NULL },
		{ "256.1.1.1", -EINVAL, NULL },
		{ " 1.2.3.4", -EINVAL, NULL },
		{ "1.2.3.4 ", -EINVAL, NULL },
		{ "0x7f.0.0.1", -EINVAL, NULL },
		{ "/24", -EINVAL, NULL },
		{ "/", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
		{ "garbage", -EINVAL, NULL },
		{ "any", -EINVAL, NULL },
		/* IPv6 */
		{ "::/0", 0, "::/0" },
		{ "::", 0, "::/128" },
		{ "::1", 0, "::1/128" },
		{ "2001:DB8::/32", 0, "2001:db8::/32" },
		{ "2001:0db8:0000::/48", 0, "2001:db8::/48" },
		{ "fd53:1::2/128", 0, "fd53:1::2/128" },
		{ "fd53::/127", 0, "fd53::/127" },
		{ "fd53::1/127", -EBADMSG, NULL },
		{ "fd53::/129", -ERANGE, NULL },
		{ "fd53::/128/", -EINVAL, NULL },
		{ "fd53::/", -EINVAL, NULL },
		{ "fe80::1%eth0", -EINVAL, NULL },
		{ "fd53:::1", -EINVAL, NULL },
		{ "1:2:3:4:5:6:7:8:9", -EINVAL, NULL },
		{ "12345::", -EINVAL, NULL },
		/* IPv4-mapped IPv6 stays IPv6: an ip6 saddr rule, not an ip saddr one. */
		{ "::ffff:10.0.0.1", 0, "::ffff:10.0.0.1/128" },
		{ "::ffff:0:0/96", 0, "::ffff:0.0.0.0/96" },
		{ "::ffff:10.0.0.0/104", 0, "::ffff:10.0.0.0/104" },
		{ "::ffff:1.2.3.4/96", -EBADMSG, NULL },
		{ "::ffff:1.2.3.4/129", -ERANGE, NULL },
		/* Longer than any address: refused before it is copied anywhere. */
		{ "1111:2222:3333:4444:5555:6666:7777:8888/128/128/128/128", -EINVAL, NULL },
		{ NULL, -EINVAL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_parse_one(cases[i].in, cases[i].ret, cases[i].text);
}

static void test_family_and_len(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(cidr_addr_len(&c), 4);
	assert_int_equal(cidr_parse("::ffff:10.0.0.1", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(cidr_addr_len(&c), 16);
}

static void test_format_small_buffer(void **state)
{
	struct cidr c;
	char buf[6];

	(void)state;
	assert_int_equal(cidr_parse("10.53.1.0/24", &c), 0);
	memset(buf, 'X', sizeof(buf));
	assert_ptr_equal(cidr_format(&c, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "10.53");
}

/* ---- contains ---- */

static void test_contains(void **state)
{
	static const struct {
		const char *cidr;
		const char *addr;
		bool in;
	} cases[] = {
		{ "0.0.0.0/0", "0.0.0.0", true },
		{ "0.0.0.0/0", "255.255.255.255", true },
		{ "0.0.0.0/0", "::", false },
		{ "10.0.0.0/8", "10.255.255.255", true },
		{ "10.0.0.0/8", "11.0.0.0", false },
		{ "10.0.0.0/8", "9.255.255.255", false },
		{ "10.53.1.0/25", "10.53.1.127", true },
		{ "10.53.1.0/25", "10.53.1.128", false },
		{ "10.53.1.128/25", "10.53.1.128", true },
		{ "10.53.1.128/25", "10.53.1.127", false },
		{ "128.0.0.0/1", "200.0.0.0", true },
		{ "128.0.0.0/1", "127.255.255.255", false },
		{ "1.2.3.4/32", "1.2.3.4", true },
		{ "1.2.3.4/32", "1.2.3.5", false },
		{ "1.2.3.4/32", "0.2.3.4", false },
		{ "10.0.0.0/8", "::ffff:10.0.0.1", false },
		{ "::/0", "fd53::1", true },
		{ "::/0", "10.0.0.1", false },
		{ "fd53::/16", "fd53:ffff::", true },
		{ "fd53::/16", "fd54::", false },
		{ "fd53::/127", "fd53::1", true },
		{ "fd53::/127", "fd53::2", false },
		{ "2001:db8::1/128", "2001:db8::1", true },
		{ "2001:db8::1/128", "2001:db8::2", false },
		{ "2001:db8::1/128", "2001:db9::1", false },
		{ "::ffff:0:0/96", "::ffff:10.0.0.1", true },
		{ "::ffff:0:0/96", "10.0.0.1", false },
		{ "::ffff:0:0/96", "::fffe:10.0.0.1", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c;
		uint8_t addr[16];
		int family = strchr(cases[i].addr, ':') ? AF_INET6 : AF_INET;

		assert_int_equal(cidr_parse(cases[i].cidr, &c), 0);
		assert_int_equal(inet_pton(family, cases[i].addr, addr), 1);
		if (cidr_contains(&c, family, addr) != cases[i].in)
			fail_msg("cidr_contains(%s, %s) != %d", cases[i].cidr, cases[i].addr, cases[i].in);
	}
}

/* ---- compare ---- */

static void test_compare(void **state)
{
	static const struct {
		const char *a, *b;
		int cmp;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", 0 },
		{ "10.0.0.0/8", "10.0.0.0/16", -1 },
		{ "10.0.0.0/8", "9.0.0.0/8", 1 },
		{ "255.0.0.0/8", "1.0.0.0/8", 1 },
		{ "10.0.0.1", "10.0.0.2", -1 },
		{ "0.0.0.0/0", "::/0", -1 },
		{ "255.255.255.255", "::", -1 },
		{ "::/0", "::1", -1 },
		{ "fd53::/16", "fd53::/64", -1 },
		{ "fd53::1", "fd53::1/128", 0 },
		{ "ff00::/8", "fd53::/16", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr a, b;

		assert_int_equal(cidr_parse(cases[i].a, &a), 0);
		assert_int_equal(cidr_parse(cases[i].b, &b), 0);
		if (cidr_compare(&a, &b) != cases[i].cmp || cidr_compare(&b, &a) != -cases[i].cmp)
			fail_msg("cidr_compare(%s, %s) = %d, expected %d", cases[i].a, cases[i].b,
				 cidr_compare(&a, &b), cases[i].cmp);
	}
}

/* For AF_INET only the first 4 address bytes mean anything. */
static void test_compare_ignores_unused_bytes(void **state)
{
	struct cidr a, b;
	uint8_t addr[4] = { 10, 0, 0, 1 };

	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/8", &a), 0);
	b = a;
	memset(b.addr + 4, 0xee, sizeof(b.addr) - 4);
	assert_int_equal(cidr_compare(&a, &b), 0);
	assert_true(cidr_contains(&b, AF_INET, addr));
}

static int cmp_qsort(const void *a, const void *b)
{
	return cidr_compare(a, b);
}

static void test_sort(void **state)
{
	static const char *const in[] = { "fd53::/16", "10.0.0.0/16", "::/0", "10.0.0.0/8", "1.0.0.0/8" };
	static const char *const sorted[] = { "1.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "::/0", "fd53::/16" };
	struct cidr v[5];
	char buf[CIDR_STRLEN];

	(void)state;
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(cidr_parse(in[i], &v[i]), 0);
	qsort(v, 5, sizeof(v[0]), cmp_qsort);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(cidr_format(&v[i], buf, sizeof(buf)), sorted[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_family_and_len),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_compare_ignores_unused_bytes),
		cmocka_unit_test(test_sort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
