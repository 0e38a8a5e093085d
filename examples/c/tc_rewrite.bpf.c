// SPDX-License-Identifier: GPL-2.0
/*
 * tc_rewrite: two tc (BPF_PROG_TYPE_SCHED_CLS) programs that edit packets in place and keep
 * the checksums right, the way a software router or a NAT does.
 *
 * tc_ttl_rewrite: decrement the IPv4 TTL like a router. The header checksum is fixed
 *   incrementally with bpf_l3_csum_replace() (RFC 1624) over the 16-bit word holding TTL and
 *   protocol; packets whose TTL would expire are dropped (TC_ACT_SHOT).
 *
 * tc_dns_redirect: rewrite the UDP destination port 53 -> 5353 with bpf_skb_store_bytes(),
 *   then fix the UDP checksum with bpf_l4_csum_replace(); the port is part of the checksummed
 *   data but not of the pseudo header, so no BPF_F_PSEUDO_HDR.
 *
 * Both return TC_ACT_OK for what they let through. Shows: SEC("tc"), __sk_buff direct packet
 * access, the checksum helpers, re-deriving packet pointers after a helper that may move data.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_OFF		ETH_HLEN
#define TTL_OFF		(IP_OFF + offsetof(struct iphdr, ttl))
#define IP_CSUM_OFF	(IP_OFF + offsetof(struct iphdr, check))

#define DNS_PORT	53
#define MDNS_PORT	5353

/* How many packets each program rewrote, for user space to read. */
__u64 ttl_rewritten = 0;
__u64 ports_rewritten = 0;

SEC("tc")
int tc_ttl_rewrite(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__u16 old_word, new_word;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return TC_ACT_OK;

	if (iph->ttl <= 1)
		return TC_ACT_SHOT;	/* would expire here: a router drops it (and sends ICMP) */

	/* TTL shares a 16-bit checksum word with the protocol byte: replace that word. */
	old_word = *(__u16 *)&iph->ttl;
	iph->ttl--;
	new_word = *(__u16 *)&iph->ttl;
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_word, new_word, sizeof(__u16));

	__sync_fetch_and_add(&ttl_rewritten, 1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_dns_redirect(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udph;
	__u32 l4_off, dport_off, csum_off;
	__be16 old_port, new_port = bpf_htons(MDNS_PORT);

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->protocol != IPPROTO_UDP)
		return TC_ACT_OK;

	l4_off = IP_OFF + iph->ihl * 4;
	if (iph->ihl < 5)
		return TC_ACT_SHOT;	/* malformed */
	udph = data + l4_off;
	if ((void *)(udph + 1) > data_end)
		return TC_ACT_OK;
	if (udph->dest != bpf_htons(DNS_PORT))
		return TC_ACT_OK;

	old_port = udph->dest;
	dport_off = l4_off + offsetof(struct udphdr, dest);
	csum_off = l4_off + offsetof(struct udphdr, check);

	/* A zero UDP checksum means "none": only fix it when the sender computed one. */
	if (udph->check)
		bpf_l4_csum_replace(skb, csum_off, old_port, new_port,
				    sizeof(new_port) | BPF_F_MARK_MANGLED_0);
	/* Packet pointers are invalid after a helper that can change the skb: use a helper to
	 * store the port rather than writing through udph. */
	bpf_skb_store_bytes(skb, dport_off, &new_port, sizeof(new_port), 0);

	__sync_fetch_and_add(&ports_rewritten, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
