# description: bpf_skb_load_bytes to the stack
# prog_type: sched_cls
# intent: accept
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r2 = 0
r3 = r10
r3 += -8
r4 = 8
call bpf_skb_load_bytes
r0 = 0
exit
