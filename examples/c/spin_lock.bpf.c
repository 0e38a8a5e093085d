// SPDX-License-Identifier: GPL-2.0
/*
 * spin_lock: per-source statistics shared by all CPUs, kept consistent with bpf_spin_lock.
 *
 * Each hash map value embeds a struct bpf_spin_lock next to the fields it protects. Several
 * fields are updated together (packets, bytes, largest frame), which atomics alone cannot do
 * as one step; taking the lock makes the group update atomic with respect to other CPUs and
 * to user space reading with BPF_F_LOCK. While the lock is held the program may not call
 * helpers or leave the function: the verifier enforces it.
 *
 * A new source is inserted with BPF_NOEXIST (an insert race with another CPU just means the
 * other insert won) and looked up again.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct src_stats {
	struct bpf_spin_lock lock;	/* user space sees it as zero */
	__u32 max_len;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __be32);		/* IPv4 source address */
	__type(value, struct src_stats);
} src_stats SEC(".maps");

SEC("tc")
int tc_src_stats(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct src_stats *st, init = {};
	__be32 saddr;
	__u32 len = skb->len;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;		/* TC_ACT_OK */
	saddr = iph->saddr;

	st = bpf_map_lookup_elem(&src_stats, &saddr);
	if (!st) {
		bpf_map_update_elem(&src_stats, &saddr, &init, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&src_stats, &saddr);
		if (!st)
			return 0;	/* map full */
	}

	bpf_spin_lock(&st->lock);
	st->packets++;
	st->bytes += len;
	if (len > st->max_len)
		st->max_len = len;
	bpf_spin_unlock(&st->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
