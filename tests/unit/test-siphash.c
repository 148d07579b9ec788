/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "siphash.h"

/* The reference vectors of the SipHash paper and its reference code
 * (vectors_sip64): key 00 01 .. 0f, message 00 01 .. len-1, output as the
 * little-endian word. Lengths around both sides of the 8-byte block. */
static void test_vectors(void **state)
{
	static const uint64_t expect[] = {
		0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
		0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
		0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
		0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
		0x3f2acc7f57c29bdbULL,
	};
	uint8_t keybytes[SIPHASH_KEY_SIZE], msg[sizeof(expect) / sizeof(expect[0])];
	struct siphash_key k;

	(void)state;
	for (size_t i = 0; i < sizeof(keybytes); i++)
		keybytes[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	siphash_key_from_bytes(&k, keybytes);
	assert_int_equal(k.k0, 0x0706050403020100ULL);
	assert_int_equal(k.k1, 0x0f0e0d0c0b0a0908ULL);
	for (size_t len = 0; len < sizeof(msg); len++)
		if (siphash24(&k, msg, len) != expect[len])
			fail_msg("length %zu: %016llx, expected %016llx", len,
				 (unsigned long long)siphash24(&k, msg, len), (unsigned long long)expect[len]);
}

/* The key matters: the same input under another key hashes elsewhere. */
static void test_key_changes_hash(void **state)
{
	static const uint8_t addr[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct siphash_key a = { 1, 2 }, b = { 1, 3 };

	(void)state;
	assert_int_equal(siphash24(&a, addr, sizeof(addr)), siphash24(&a, addr, sizeof(addr)));
	assert_int_not_equal(siphash24(&a, addr, sizeof(addr)), siphash24(&b, addr, sizeof(addr)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_key_changes_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
