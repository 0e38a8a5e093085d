// SPDX-License-Identifier: GPL-2.0
/*
 * map_in_map: per-protocol port counters selected through a BPF_MAP_TYPE_ARRAY_OF_MAPS.
 *
 * The outer map holds references to inner maps; the program looks up the outer map to get an
 * inner map, then uses that like any map. User space can swap an inner map atomically (e.g.
 * to reset counters) without reloading the program. Here the outer map is initialised
 * statically: libbpf creates tcp_ports and udp_ports and stores them in slots 0 and 1.
 * All inner maps of one outer map must share type, key size, value size and max entries:
 * `__array(values, ...)` declares that shape.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Inner maps: destination port (host order) -> packets. */
struct port_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u64);
};

struct port_map tcp_ports SEC(".maps");
struct port_map udp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct port_map);
} ports_by_proto SEC(".maps") = {
	.values = { [0] = &tcp_ports, [1] = &udp_ports },
};

SEC("xdp")
int xdp_port_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *l4;
	__u64 *count, one = 1;
	void *inner;
	__u32 slot;
	__u16 port;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->protocol == IPPROTO_TCP)
		slot = 0;
	else if (iph->protocol == IPPROTO_UDP)
		slot = 1;
	else
		return XDP_PASS;

	l4 = (void *)iph + iph->ihl * 4;
	if ((void *)(l4 + 1) > data_end)
		return XDP_PASS;
	port = bpf_ntohs(l4->dest);	/* same offset in TCP and UDP */

	inner = bpf_map_lookup_elem(&ports_by_proto, &slot);
	if (!inner)
		return XDP_PASS;
	count = bpf_map_lookup_elem(inner, &port);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(inner, &port, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
