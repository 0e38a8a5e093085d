// SPDX-License-Identifier: GPL-2.0
/*
 * hash_update: 64 bpf_map_update_elem then 64 bpf_map_delete_elem calls per frame
 * (benchmark, bench/jit_speed.py).
 *
 * The first 256 bytes of the frame are 64 u32 keys; each is inserted (BPF_ANY) into an empty
 * hash map with its position as the value, then each is deleted, so the map is empty again
 * after every run. Returns the number of updates and deletes that succeeded.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NKEYS 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} utable SEC(".maps");

SEC("xdp")
int xdp_hash_update(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int ok = 0;

	for (int i = 0; i < NKEYS; i++) {
		__u32 *p = data + i * 4;
		__u32 key;
		__u64 value = i;

		if ((void *)(p + 1) > data_end)
			break;
		key = *p;
		if (bpf_map_update_elem(&utable, &key, &value, BPF_ANY) == 0)
			ok++;
	}
	for (int i = 0; i < NKEYS; i++) {
		__u32 *p = data + i * 4;
		__u32 key;

		if ((void *)(p + 1) > data_end)
			break;
		key = *p;
		if (bpf_map_delete_elem(&utable, &key) == 0)
			ok++;
	}
	return ok;
}

char LICENSE[] SEC("license") = "GPL";
