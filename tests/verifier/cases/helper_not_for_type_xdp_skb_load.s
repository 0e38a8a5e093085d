# description: bpf_skb_load_bytes from XDP
# prog_type: xdp
# intent: reject
r2 = 0
r3 = r10
r3 += -8
r4 = 4
call bpf_skb_load_bytes
r0 = 2
exit
