// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_firewall: drop IPv4 packets whose source address is on a blocklist.
 *
 * The blocklist is a hash map keyed by the source IPv4 address (network byte order, as it
 * appears in the packet); user space fills it. Every drop is counted per blocked address in the
 * blocklist value itself and in a global two-slot array (dropped, passed).
 *
 * Shows: direct packet access with bounds checks against data_end, a BTF-defined hash map,
 * in-place update of a map value through the pointer bpf_map_lookup_elem returns.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* What user space stores for a blocked source: a drop counter the program increments. */
struct block_entry {
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);			/* IPv4 source address, network byte order */
	__type(value, struct block_entry);
} blocklist SEC(".maps");

enum { STAT_DROPPED, STAT_PASSED, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *counter = bpf_map_lookup_elem(&stats, &slot);

	if (counter)
		__sync_fetch_and_add(counter, 1);
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct block_entry *entry;
	__u32 saddr;

	/* Every access must be proven in bounds: check before touching each header. */
	if ((void *)(eth + 1) > data_end)
		goto pass;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		goto pass;		/* ARP, IPv6, ...: not our business */

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		goto pass;		/* truncated IPv4 header */

	saddr = iph->saddr;
	entry = bpf_map_lookup_elem(&blocklist, &saddr);
	if (entry) {
		__sync_fetch_and_add(&entry->drops, 1);
		count(STAT_DROPPED);
		return XDP_DROP;
	}
pass:
	count(STAT_PASSED);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
