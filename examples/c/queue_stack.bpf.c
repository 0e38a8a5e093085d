// SPDX-License-Identifier: GPL-2.0
/*
 * queue_stack: the two keyless map types.
 *
 *  - recent_src (BPF_MAP_TYPE_QUEUE, FIFO): the program pushes each IPv4 source address;
 *    with BPF_EXIST a full queue drops its oldest element to make room, so the queue always
 *    holds the last 4 sources.
 *  - free_ids (BPF_MAP_TYPE_STACK, LIFO): user space preloads a pool of IDs; the program pops
 *    one per packet (bpf_map_pop_elem) and records it, and drops packets when the pool is
 *    empty. bpf_map_peek_elem() reads the next ID without taking it.
 *
 * Keyless maps have key_size 0: user space pushes with a NULL key and pops with
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __be32);
} recent_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 16);
	__type(value, __u32);
} free_ids SEC(".maps");

__u32 last_id;		/* the ID handed to the last packet */
__u32 next_id;		/* the one after it, 0 if the pool is now empty */
__u64 out_of_ids;	/* packets dropped for lack of an ID */

SEC("xdp")
int xdp_queue_stack(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__be32 saddr;
	__u32 id;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	saddr = iph->saddr;
	bpf_map_push_elem(&recent_src, &saddr, BPF_EXIST);

	if (bpf_map_pop_elem(&free_ids, &id)) {
		out_of_ids++;
		return XDP_DROP;
	}
	last_id = id;
	if (bpf_map_peek_elem(&free_ids, &id))
		id = 0;
	next_id = id;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
