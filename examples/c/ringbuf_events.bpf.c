// SPDX-License-Identifier: GPL-2.0
/*
 * ringbuf_events: report every packet to user space through a BPF ring buffer.
 *
 * IPv4 packets produce a fixed-size struct event built in place: bpf_ringbuf_reserve() hands
 * out space in the ring, the program fills it and bpf_ringbuf_submit() publishes it (or
 * bpf_ringbuf_discard() throws it away: here, for packets user space asked to ignore).
 * Anything else (ARP, IPv6, ...) is reported with bpf_ringbuf_output(), which copies a small
 * struct other_event from the stack in one call.
 *
 * Every byte of an event is written, padding included, so records are deterministic.
 * Shows: BPF_MAP_TYPE_RINGBUF, reserve/submit/discard, output, a config map read once.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define EVENT_IPV4	1
#define EVENT_OTHER	2

struct event {
	__u8  kind;		/* EVENT_IPV4 */
	__u8  proto;		/* IPv4 protocol */
	__u16 pkt_len;		/* whole frame, bytes */
	__be32 saddr;
	__be32 daddr;
	__u16 sport;		/* host order; 0 unless TCP or UDP */
	__u16 dport;
};

struct other_event {
	__u8  kind;		/* EVENT_OTHER */
	__u8  pad;
	__u16 pkt_len;
	__u16 ethertype;	/* host order */
	__u16 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);	/* bytes: a power of two, a multiple of the page size */
} events SEC(".maps");

/* Protocols user space does not want events for (key: IP protocol, value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u8);
	__type(value, __u8);
} ignore_proto SEC(".maps");

/* Counters: [0] submitted, [1] discarded, [2] output, [3] ring full */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} event_stats SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&event_stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct event *e;
	__u16 len = data_end - data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		struct other_event oe = {
			.kind = EVENT_OTHER,
			.pkt_len = len,
			.ethertype = bpf_ntohs(eth->h_proto),
		};

		if (bpf_ringbuf_output(&events, &oe, sizeof(oe), 0))
			bump(3);
		else
			bump(2);
		return XDP_PASS;
	}

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		bump(3);
		return XDP_PASS;
	}
	e->kind = EVENT_IPV4;
	e->proto = iph->protocol;
	e->pkt_len = len;
	e->saddr = iph->saddr;
	e->daddr = iph->daddr;
	e->sport = 0;
	e->dport = 0;
	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		/* Ports sit at the same offsets in TCP and UDP headers. */
		struct udphdr *l4 = (void *)iph + iph->ihl * 4;

		if ((void *)(l4 + 1) <= data_end) {
			e->sport = bpf_ntohs(l4->source);
			e->dport = bpf_ntohs(l4->dest);
		}
	}

	/* The reservation must be released on every path: submit or discard. */
	if (bpf_map_lookup_elem(&ignore_proto, &e->proto)) {
		bpf_ringbuf_discard(e, 0);
		bump(1);
	} else {
		bpf_ringbuf_submit(e, 0);
		bump(0);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
