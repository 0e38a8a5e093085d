// Bitfields, anonymous members, enums and a plain __sk_buff program (built by build.sh).
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

struct net_device {
	int ifindex;
} __pai;

/* the kernel's sk_buff nests dev inside anonymous unions and structs */
struct sk_buff {
	struct net_device *dev;
	unsigned int len;
	__u8 pkt_type: 3;
} __pai;

struct tcphdr {
	__u16 source;
	__u16 dest;
	__u32 seq;
	__u32 ack_seq;
	__u16 res1: 4, doff: 4, fin: 1, syn: 1, rst: 1, psh: 1, ack: 1, urg: 1, ece: 1, cwr: 1;
	__u16 window;
} __pai;

enum bpf_func_id___local {
	BPF_FUNC_map_lookup_elem___local = 1000,
	BPF_FUNC_no_such_helper___local = 7,
};

enum xdp_action___x {
	XDP_PASS___x = 99,
};

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/kfree_skb")
int skb_fields(unsigned long long *ctx)
{
	struct sk_buff *skb = (void *)ctx[0];
	struct tcphdr *th = (void *)ctx[1];
	int r = BPF_CORE_READ(skb, dev, ifindex) + BPF_CORE_READ(skb, len);

	r += BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type);
	r += BPF_CORE_READ_BITFIELD_PROBED(th, doff);
	r += BPF_CORE_READ_BITFIELD_PROBED(th, syn);
	r += BPF_CORE_READ_BITFIELD(th, doff);
	return r;
}

SEC("tp_btf/kfree_skb")
int enums(void *ctx)
{
	int r = 0;

	if (bpf_core_enum_value_exists(enum bpf_func_id___local, BPF_FUNC_map_lookup_elem___local))
		r += bpf_core_enum_value(enum bpf_func_id___local, BPF_FUNC_map_lookup_elem___local);
	if (bpf_core_enum_value_exists(enum bpf_func_id___local, BPF_FUNC_no_such_helper___local))
		r += 1;
	r += bpf_core_enum_value(enum xdp_action___x, XDP_PASS___x);
	r += bpf_core_enum_value(enum bpf_func_id___local, BPF_FUNC_no_such_helper___local);
	return r;
}

SEC("tc")
int plain_skb(struct __sk_buff *skb)
{
	return skb->len + skb->data;
}
