// SPDX-License-Identifier: GPL-2.0
/*
 * proto_counters: per-protocol packet and byte counters, the classic "xdp1" sample.
 *
 * The counters live in a BPF_MAP_TYPE_PERCPU_ARRAY indexed by the IP protocol number (IPv4
 * protocol or IPv6 next header, 256 slots), so CPUs never contend: each CPU updates its own
 * copy without atomics and user space sums the per-CPU values when it reads them.
 *
 * Shows: a per-CPU array, IPv4 and IPv6 parsing, returning XDP_PASS for everything.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);		/* one slot per IP protocol number */
	__type(key, __u32);
	__type(value, struct counters);
} proto_stats SEC(".maps");

SEC("xdp")
int xdp_proto_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct counters *c;
	__u32 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		proto = iph->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		proto = ip6h->nexthdr;	/* the first next header, extension headers included */
	} else {
		return XDP_PASS;
	}

	c = bpf_map_lookup_elem(&proto_stats, &proto);
	if (!c)
		return XDP_PASS;	/* cannot happen (proto < 256), but the verifier insists */
	/* This CPU's private copy: plain increments are race-free. */
	c->packets++;
	c->bytes += data_end - data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
