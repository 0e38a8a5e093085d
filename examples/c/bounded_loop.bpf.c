// SPDX-License-Identifier: GPL-2.0
/*
 * bounded_loop: the two ways to loop in BPF.
 *
 * xdp_ipv4_csum: a plain C `for` loop with a constant bound (verifier-checked bounded loop,
 *   Linux 5.3+) that verifies the IPv4 header checksum over ihl*4 bytes, options included.
 *   Packets with a bad checksum are dropped.
 *
 * xdp_ipv6_exthdr: bpf_loop() (Linux 5.17+) calls a callback up to N times; the callback
 *   walks the IPv6 extension header chain (Hop-by-Hop, Routing, Fragment, Destination
 *   options) with bpf_xdp_load_bytes() and stops at the first upper-layer header. The
 *   program records the final protocol and the number of extension headers it skipped, and
 *   drops packets whose chain is longer than the loop allows.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_IHL_WORDS	30	/* 60-byte IPv4 header = 30 16-bit words */
#define MAX_EXT_HDRS	8

/* [0] good checksum, [1] bad checksum */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} csum_stats SEC(".maps");

/* What the extension-header walk found in the last IPv6 packet. */
struct ext_result {
	__u32 l4_proto;		/* first upper-layer protocol, e.g. IPPROTO_UDP */
	__u32 l4_offset;	/* its offset in the frame */
	__u32 ext_count;	/* extension headers skipped */
	__u32 iterations;	/* what bpf_loop() returned */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ext_result);
} ext_result SEC(".maps");

SEC("xdp")
int xdp_ipv4_csum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u16 *word = (void *)iph;
	__u32 sum = 0, nwords, key;
	__u64 *stat;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	nwords = iph->ihl * 2;

	/* The bound is a constant, so the verifier can prove the loop terminates; checking the
	 * advancing pointer against data_end on every word is what lets it prove each load is
	 * inside the packet. barrier_var() stops clang from turning that pointer comparison
	 * into an integer one the verifier cannot use. */
#pragma clang loop unroll(disable)
	for (int i = 0; i < MAX_IHL_WORDS; i++) {
		if (i >= nwords)
			break;
		barrier_var(word);
		if ((void *)(word + 1) > data_end)
			return XDP_DROP;	/* header longer than the frame */
		sum += *word++;
	}
	/* Fold the carries: a correct header sums to 0xffff. */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);

	key = sum == 0xffff ? 0 : 1;
	stat = bpf_map_lookup_elem(&csum_stats, &key);
	if (stat)
		__sync_fetch_and_add(stat, 1);
	return key == 0 ? XDP_PASS : XDP_DROP;
}

struct walk_ctx {
	struct xdp_md *xdp;
	__u32 offset;		/* of the header whose type is `nexthdr` */
	__u8 nexthdr;
	__u8 done;
	__u16 ext_count;
};

static int is_ext_header(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS;
}

/* bpf_loop() callback: one extension header per call; return 1 to stop the loop. */
static int walk_one(__u32 index, struct walk_ctx *w)
{
	struct { __u8 nexthdr; __u8 hdrlen; } opt;

	if (!is_ext_header(w->nexthdr)) {
		w->done = 1;
		return 1;
	}
	if (bpf_xdp_load_bytes(w->xdp, w->offset, &opt, sizeof(opt)))
		return 1;		/* truncated: stop, not done */
	w->offset += w->nexthdr == IPPROTO_FRAGMENT ? 8 : (opt.hdrlen + 1) * 8;
	w->nexthdr = opt.nexthdr;
	w->ext_count++;
	return 0;
}

SEC("xdp")
int xdp_ipv6_exthdr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	struct walk_ctx w = {};
	struct ext_result *res;
	__u32 zero = 0;
	long n;

	if ((void *)(ip6h + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;

	w.xdp = ctx;
	w.offset = sizeof(*eth) + sizeof(*ip6h);
	w.nexthdr = ip6h->nexthdr;
	n = bpf_loop(MAX_EXT_HDRS, walk_one, &w, 0);

	res = bpf_map_lookup_elem(&ext_result, &zero);
	if (res) {
		res->l4_proto = w.done ? w.nexthdr : 0xff;
		res->l4_offset = w.offset;
		res->ext_count = w.ext_count;
		res->iterations = n;
	}
	return w.done ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
