// SPDX-License-Identifier: GPL-2.0
/*
 * bpf2bpf_calls: a flow hasher split into real functions (BPF-to-BPF calls, not inlining).
 *
 *  - parse_flow(): static __noinline, takes packet pointers and a pointer into the caller's
 *    stack frame, fills a struct flow. Static subprograms are verified as part of each caller,
 *    so the verifier knows exactly what the pointers point to.
 *  - flow_hash(): static __noinline with five scalar arguments (the most BPF allows, r1-r5).
 *  - pick_bucket() and frame_len(): global (non-static) functions. The verifier checks each
 *    one once, on its own, from its BTF prototype: scalars are unknown, a ctx pointer is a ctx.
 *
 * The program counts packets per hash bucket and remembers the last flow in .bss.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NBUCKETS 8

struct flow {
	__be32 saddr;
	__be32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NBUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} bucket_count SEC(".maps");

struct flow last_flow;
__u32 last_hash;
__u32 last_len;

/* Fill *flow from an IPv4 packet; returns 0 on success, -1 if this is not IPv4. */
static __noinline int parse_flow(void *data, void *data_end, struct flow *flow)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *l4;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	flow->saddr = iph->saddr;
	flow->daddr = iph->daddr;
	flow->proto = iph->protocol;
	flow->sport = 0;
	flow->dport = 0;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return 0;
	l4 = (void *)iph + iph->ihl * 4;
	if ((void *)(l4 + 1) > data_end)
		return 0;
	flow->sport = bpf_ntohs(l4->source);
	flow->dport = bpf_ntohs(l4->dest);
	return 0;
}

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

/* A few rounds of jhash-style mixing over the 5-tuple: five arguments in r1-r5. */
static __noinline __u32 flow_hash(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u8 proto)
{
	__u32 a = saddr + 0xdeadbeef, b = daddr + 0xdeadbeef;
	__u32 c = ((__u32)sport << 16 | dport) + proto;

	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* Global function: verified once, independently of its callers. */
__noinline int pick_bucket(__u32 hash, __u32 nbuckets)
{
	if (nbuckets == 0)
		return 0;
	return hash % nbuckets;
}

/* Global function taking the ctx: the only pointer kind a global function accepts here. */
__noinline int frame_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

SEC("xdp")
int xdp_flow_hash(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct flow flow = {};
	__u32 hash, bucket;
	__u64 *count;

	if (parse_flow(data, data_end, &flow) < 0)
		return XDP_PASS;

	hash = flow_hash(flow.saddr, flow.daddr, flow.sport, flow.dport, flow.proto);
	bucket = pick_bucket(hash, NBUCKETS);
	count = bpf_map_lookup_elem(&bucket_count, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);

	last_flow = flow;
	last_hash = hash;
	last_len = frame_len(ctx);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
