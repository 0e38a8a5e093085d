// SPDX-License-Identifier: GPL-2.0
/*
 * siphash: SipHash-2-4 of the first 1 KiB of an XDP frame (benchmark, bench/jit_speed.py).
 *
 * The frame is hashed as 8-byte little-endian words (a bounded loop of at most 128, each
 * checked against data_end, so the verifier walks 128 short iterations), then the 0..7 tail
 * bytes and the length byte, as the reference implementation does. The 64-bit hash goes to
 * .bss `result`; the program returns its low 32 bits.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "siphash.h"

#define MAX_WORDS 128	/* 1 KiB */

__u64 result;

SEC("xdp")
int xdp_siphash(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 v0, v1, v2, v3, b = 0;
	__u8 *tail = data;
	__u32 len = 0;
	int i;

	SIP_INIT(v0, v1, v2, v3);
	for (i = 0; i < MAX_WORDS; i++) {
		__u64 *p = data + i * 8;
		__u64 m;

		if ((void *)(p + 1) > data_end)
			break;
		m = *p;
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
		len += 8;
		tail = (__u8 *)(p + 1);
	}
	if (i < MAX_WORDS) {	/* frames shorter than 1 KiB: up to 7 tail bytes */
		for (int j = 0; j < 7; j++) {
			if ((void *)(tail + j + 1) > data_end)
				break;
			b |= (__u64)tail[j] << (8 * j);
			len++;
		}
	}
	b |= (__u64)len << 56;
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	b = v0 ^ v1 ^ v2 ^ v3;
	result = b;
	return (__u32)b;
}

char _license[] SEC("license") = "GPL";
