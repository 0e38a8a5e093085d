// SPDX-License-Identifier: GPL-2.0
/*
 * sock_filter_ldabs: a socket filter that accepts only DNS queries (UDP to port 53 over IPv4),
 * written with the legacy LD_ABS packet loads the way samples/bpf/sockex1 and tcpdump-style
 * classic BPF filters work.
 *
 * A socket filter returns how many bytes of the packet to keep: the whole packet (skb->len)
 * to accept it, 0 to drop it. Its data starts at the network header (the Ethernet header has
 * already been pulled), so offset 0 is the first byte of the IPv4 header.
 *
 * LD_ABS/LD_IND loads (BPF_LD | BPF_ABS or BPF_IND) read big-endian values at an offset from
 * the start of the skb data and return them in host order in r0; an out-of-range offset ends the program with
 * return value 0 (the packet is dropped), so no explicit bounds checks are needed. clang
 * emits them for these LLVM intrinsics (samples/bpf/bpf_legacy.h).
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#define DNS_PORT 53
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

SEC("socket")
int dns_filter(struct __sk_buff *skb)
{
	__u32 ihl, frag;

	if (skb->protocol != __constant_htons(ETH_P_IP))
		return 0;
	/* byte 0: version (high nibble) and header length in 32-bit words (low nibble) */
	if ((load_byte(skb, 0) >> 4) != 4)
		return 0;
	if (load_byte(skb, offsetof(struct iphdr, protocol)) != IPPROTO_UDP)
		return 0;
	/* Only a first (or the only) fragment carries the UDP header. */
	frag = load_half(skb, offsetof(struct iphdr, frag_off));
	if (frag & IP_OFFSET)
		return 0;

	/* The UDP header follows the IPv4 header and its options, so the offset is computed:
	 * for these loads clang emits LD_IND (BPF_LD | BPF_IND, offset in a register). */
	ihl = (load_byte(skb, 0) & 0xf) * 4;
	if (load_half(skb, ihl + offsetof(struct udphdr, dest)) != DNS_PORT)
		return 0;
	/* A DNS query has the QR bit (top bit of the flags word) clear. The word load reads the
	 * transaction id and the flags: 8 = UDP header size. */
	if (load_word(skb, ihl + 8) & 0x8000)
		return 0;
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
