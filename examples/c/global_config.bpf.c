// SPDX-License-Identifier: GPL-2.0
/*
 * global_config: a packet policy configured through global variables, the way libbpf
 * skeletons do it.
 *
 *  - `const volatile` globals live in .rodata. The loader may overwrite them between open and
 *    load (skel->rodata->cfg_... = ...); libbpf then freezes the map, so the verifier knows
 *    their values and prunes code that a setting disables (cfg_debug below). The defaults
 *    compiled into the object are what this corpus runs with.
 *  - Initialised globals live in .data: knobs user space may change at any time (here a
 *    blocked TCP port), through the ".data" map.
 *  - Zero-initialised globals live in .bss: counters user space reads through ".bss".
 *  - String literals the program reads at run time land in .rodata.str1.1.
 *
 * Verdict: drop frames longer than cfg_max_len, IPv4 packets of protocol cfg_block_proto and
 * TCP segments to blocked_port; pass the rest.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* .rodata: load-time configuration (defaults) */
const volatile __u8 cfg_block_proto = IPPROTO_ICMP;
const volatile __u16 cfg_max_len = 1514;
const volatile bool cfg_count_bytes = true;
const volatile bool cfg_debug = false;		/* bpf_printk every verdict: dead code by default */

/* .data: run-time knobs */
__u16 blocked_port = 23;			/* telnet */
__u32 config_generation = 1;			/* user space bumps it when it changes a knob */

/* .bss: statistics */
__u64 total_packets;
__u64 total_bytes;
__u64 dropped_len, dropped_proto, dropped_port;
char last_verdict[8];				/* "pass" or "drop-..." (NUL-terminated if short) */

/* Record why we decided, as text. `why` points into .rodata.str1.1 (string literals): the
 * loop copies it at run time, up to and including its NUL. Not inlined, so clang cannot turn
 * the copy into constant stores. */
static __noinline void record_verdict(const char *why)
{
	for (int i = 0; i < sizeof(last_verdict); i++) {
		last_verdict[i] = why[i];
		if (!why[i])
			break;
	}
	if (cfg_debug)
		bpf_printk("global_config: %s", why);
}

static __always_inline int verdict(int action, const char *why)
{
	record_verdict(why);
	return action;
}

SEC("xdp")
int xdp_global_config(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct tcphdr *tcph;
	__u64 len = data_end - data;

	total_packets++;
	if (cfg_count_bytes)
		total_bytes += len;

	if (len > cfg_max_len) {
		dropped_len++;
		return verdict(XDP_DROP, "drop-len");
	}
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return verdict(XDP_PASS, "pass");
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return verdict(XDP_PASS, "pass");

	if (iph->protocol == cfg_block_proto) {
		dropped_proto++;
		return verdict(XDP_DROP, "drop-proto");
	}
	if (iph->protocol != IPPROTO_TCP)
		return verdict(XDP_PASS, "pass");
	tcph = (void *)iph + iph->ihl * 4;
	if ((void *)(tcph + 1) > data_end)
		return verdict(XDP_PASS, "pass");
	if (tcph->dest == bpf_htons(blocked_port)) {
		dropped_port++;
		return verdict(XDP_DROP, "drop-port");
	}
	return verdict(XDP_PASS, "pass");
}

char LICENSE[] SEC("license") = "GPL";
