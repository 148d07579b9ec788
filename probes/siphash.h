/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash. Hash tables whose keys an attacker picks
 * (source addresses of inbound packets) use it with a secret random key, so
 * nobody outside can aim keys at one bucket and build long probe chains.
 * Pure: the key is the caller's.
 */

#define SIPHASH_KEY_SIZE 16

struct siphash_key {
	uint64_t k0, k1;        /* the 16 key bytes read as two little-endian words */
};

/* The key from its 16 bytes (as getrandom() gives them). */
void siphash_key_from_bytes(struct siphash_key *k, const uint8_t bytes[SIPHASH_KEY_SIZE]);

uint64_t siphash24(const struct siphash_key *k, const void *data, size_t len);
