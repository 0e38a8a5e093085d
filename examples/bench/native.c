// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark algorithms of siphash.bpf.c and crc32.bpf.c as plain C, for gcc -O2
 * (bench/jit_speed.py builds this into a shared object and calls bench() through ctypes,
 * so the repeat loop, like the JIT's and the kernel's, runs in native code).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "crc32_table.h"
#include "siphash.h"

static const uint32_t crc_table[256] = CRC32_TABLE_INIT;

uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint64_t siphash24(const uint8_t *p, size_t n)
{
	uint64_t v0, v1, v2, v3, b = 0, m;
	size_t i, words = n / 8;

	SIP_INIT(v0, v1, v2, v3);
	for (i = 0; i < words; i++) {
		memcpy(&m, p + 8 * i, 8);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (i = 0; i < n % 8; i++)
		b |= (uint64_t)p[8 * words + i] << (8 * i);
	b |= (uint64_t)(n & 0xff) << 56;
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* which: 0 CRC-32, 1 SipHash-2-4; the barrier keeps gcc from hoisting the call out of the loop */
uint64_t bench(int which, const uint8_t *p, size_t n, long reps)
{
	uint64_t acc = 0;

	for (long r = 0; r < reps; r++) {
		__asm__ volatile("" : : "r"(p) : "memory");
		acc += which == 0 ? crc32(p, n) : siphash24(p, n);
	}
	return acc;
}
