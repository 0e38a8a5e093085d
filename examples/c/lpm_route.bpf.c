// SPDX-License-Identifier: GPL-2.0
/*
 * lpm_route: a tiny XDP IPv4 router using a longest-prefix-match trie.
 *
 * Routes map a destination prefix (BPF_MAP_TYPE_LPM_TRIE: key = prefix length in bits +
 * address bytes, most significant first) to an action:
 *  - ROUTE_FORWARD: rewrite the Ethernet addresses to the next hop's, decrement the TTL
 *    (fixing the IPv4 header checksum incrementally, RFC 1624) and send the frame back out
 *    with XDP_TX;
 *  - ROUTE_BLACKHOLE: drop it;
 *  - no matching route: XDP_PASS to the kernel stack.
 * LPM tries require BPF_F_NO_PREALLOC.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ROUTE_FORWARD	1
#define ROUTE_BLACKHOLE	2

struct route_key {
	__u32 prefixlen;	/* bits */
	__u8 addr[4];		/* IPv4 address, network byte order */
};

struct route {
	__u32 action;		/* ROUTE_* */
	__u8 src_mac[ETH_ALEN];	/* ours, on the egress side */
	__u8 dst_mac[ETH_ALEN];	/* the next hop's */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct route_key);
	__type(value, struct route);
} routes SEC(".maps");

/* Incrementally update a 16-bit one's complement checksum when one 16-bit word changes. */
static __always_inline __u16 csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int xdp_router(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct route_key key = { .prefixlen = 32 };
	struct route *rt;
	__u16 old_word;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__builtin_memcpy(key.addr, &iph->daddr, sizeof(key.addr));
	rt = bpf_map_lookup_elem(&routes, &key);
	if (!rt)
		return XDP_PASS;
	if (rt->action == ROUTE_BLACKHOLE)
		return XDP_DROP;
	if (rt->action != ROUTE_FORWARD)
		return XDP_PASS;
	if (iph->ttl <= 1)
		return XDP_PASS;	/* let the kernel send ICMP time exceeded */

	old_word = *(__u16 *)&iph->ttl;
	iph->ttl--;
	iph->check = csum_replace2(iph->check, old_word, *(__u16 *)&iph->ttl);

	__builtin_memcpy(eth->h_source, rt->src_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, rt->dst_mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
