// SPDX-License-Identifier: GPL-2.0
/*
 * tail_calls: a dispatcher that jumps to a per-protocol XDP program with bpf_tail_call().
 *
 * The jump table is a BPF_MAP_TYPE_PROG_ARRAY filled statically: libbpf puts the programs
 * named in `.values` into the table when it loads the object, so user space has nothing to
 * do. A tail call replaces the running program (same stack depth, no return); if the slot is
 * empty the call falls through and the dispatcher carries on (here: XDP_PASS).
 *
 * Slots: 0 TCP -> handle_tcp, 1 UDP -> handle_udp, 2 ICMP -> handle_icmp, 3 left empty for
 * "other IPv4" to show the fall-through. Each handler counts itself in `hits`.
 *
 * Shows: static PROG_ARRAY initialisation, bpf_tail_call, several programs in one object.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { SLOT_TCP, SLOT_UDP, SLOT_ICMP, SLOT_OTHER, SLOT_MAX };
enum { HIT_DISPATCH, HIT_TCP, HIT_UDP, HIT_ICMP, HIT_FALLTHROUGH, HIT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct iphdr *ipv4_header(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	return iph;
}

/* TCP: drop segments to port 23 (telnet), pass the rest. */
SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = ipv4_header(ctx);
	struct tcphdr *tcph;

	hit(HIT_TCP);
	if (!iph)
		return XDP_ABORTED;
	tcph = (void *)iph + iph->ihl * 4;
	if ((void *)(tcph + 1) > data_end)
		return XDP_DROP;
	return tcph->dest == bpf_htons(23) ? XDP_DROP : XDP_PASS;
}

/* UDP: pass. */
SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	hit(HIT_UDP);
	return XDP_PASS;
}

/* ICMP: bounce it back out of the interface it came from. */
SEC("xdp")
int handle_icmp(struct xdp_md *ctx)
{
	hit(HIT_ICMP);
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = {
		[SLOT_TCP] = (void *)&handle_tcp,
		[SLOT_UDP] = (void *)&handle_udp,
		[SLOT_ICMP] = (void *)&handle_icmp,
		/* [SLOT_OTHER] stays empty */
	},
};

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	struct iphdr *iph = ipv4_header(ctx);
	__u32 slot;

	hit(HIT_DISPATCH);
	if (!iph)
		return XDP_PASS;

	switch (iph->protocol) {
	case IPPROTO_TCP:
		slot = SLOT_TCP;
		break;
	case IPPROTO_UDP:
		slot = SLOT_UDP;
		break;
	case IPPROTO_ICMP:
		slot = SLOT_ICMP;
		break;
	default:
		slot = SLOT_OTHER;
		break;
	}
	bpf_tail_call(ctx, &jump_table, slot);

	/* Only reached when the slot is empty (or the tail-call limit was hit). */
	hit(HIT_FALLTHROUGH);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
