/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "siphash.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Byte order is the algorithm's (little endian), whatever the host's. */
static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void siphash_key_from_bytes(struct siphash_key *k, const uint8_t bytes[SIPHASH_KEY_SIZE])
{
	k->k0 = load_le64(bytes);
	k->k1 = load_le64(bytes + 8);
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static void sip_compress(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t siphash24(const struct siphash_key *k, const void *data, size_t len)
{
	struct sip s = {
		.v0 = k->k0 ^ 0x736f6d6570736575ULL,
		.v1 = k->k1 ^ 0x646f72616e646f6dULL,
		.v2 = k->k0 ^ 0x6c7967656e657261ULL,
		.v3 = k->k1 ^ 0x7465646279746573ULL,
	};
	const uint8_t *p = data;
	uint8_t tail[8] = { 0 };
	size_t full = len & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8)
		sip_compress(&s, load_le64(p + i));
	/* The last word: the remaining bytes, the length's low byte on top. */
	memcpy(tail, p + full, len - full);
	tail[7] = (uint8_t)len;
	sip_compress(&s, load_le64(tail));
	s.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
