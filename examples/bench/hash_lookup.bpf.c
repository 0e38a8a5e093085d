// SPDX-License-Identifier: GPL-2.0
/*
 * hash_lookup: 64 bpf_map_lookup_elem calls per frame (benchmark, bench/jit_speed.py).
 *
 * The first 256 bytes of the frame are 64 u32 keys; the program sums the values they find
 * in a hash map (xdp_hash_lookup) or an LRU hash map (xdp_lru_lookup), both filled by the
 * benchmark before it runs. Returns the low 32 bits of the sum.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NKEYS 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} lru_table SEC(".maps");

static __always_inline int sum_lookups(struct xdp_md *ctx, void *map)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 sum = 0;

	for (int i = 0; i < NKEYS; i++) {
		__u32 *p = data + i * 4;
		__u32 key;
		__u64 *value;

		if ((void *)(p + 1) > data_end)
			break;
		key = *p;
		value = bpf_map_lookup_elem(map, &key);
		if (value)
			sum += *value;
	}
	return (__u32)sum;
}

SEC("xdp")
int xdp_hash_lookup(struct xdp_md *ctx)
{
	return sum_lookups(ctx, &table);
}

SEC("xdp")
int xdp_lru_lookup(struct xdp_md *ctx)
{
	return sum_lookups(ctx, &lru_table);
}

char _license[] SEC("license") = "GPL";
