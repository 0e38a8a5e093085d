/* SPDX-License-Identifier: GPL-2.0 */
/* SipHash-2-4 (Aumasson, Bernstein): the key and the round, shared by siphash.bpf.c and
 * native.c. The key is the reference implementation's test key 00 01 02 .. 0f. */
#define SIP_K0 0x0706050403020100ULL
#define SIP_K1 0x0f0e0d0c0b0a0908ULL
#define SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3)                                              \
	do {                                                                  \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32); \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32); \
	} while (0)
#define SIP_INIT(v0, v1, v2, v3)                \
	do {                                    \
		v0 = SIP_K0 ^ 0x736f6d6570736575ULL; \
		v1 = SIP_K1 ^ 0x646f72616e646f6dULL; \
		v2 = SIP_K0 ^ 0x6c7967656e657261ULL; \
		v3 = SIP_K1 ^ 0x7465646279746573ULL; \
	} while (0)
