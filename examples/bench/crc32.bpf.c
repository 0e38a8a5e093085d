// SPDX-License-Identifier: GPL-2.0
/*
 * crc32: the CRC-32 (IEEE 802.3, as zlib's crc32()) of the first 1 KiB of an XDP frame
 * (benchmark, bench/jit_speed.py).
 *
 * Table-driven, a byte at a time: a bounded loop of at most 1024 short iterations, each
 * checked against data_end, with the 256-entry table in .rodata (a frozen map, so the
 * verifier knows the index (crc ^ byte) & 0xff stays inside it). Returns the CRC.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "crc32_table.h"

#define MAX_BYTES 1024

static const __u32 crc_table[256] = CRC32_TABLE_INIT;

SEC("xdp")
int xdp_crc32(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 crc = 0xffffffff;

	for (int i = 0; i < MAX_BYTES; i++) {
		if ((void *)(data + i + 1) > data_end)
			break;
		crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
	}
	return ~crc;
}

char _license[] SEC("license") = "GPL";
