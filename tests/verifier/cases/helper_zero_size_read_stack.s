# description: bpf_trace_printk with a size that may be 0
# prog_type: kprobe
# intent: reject
*(u64 *)(r10 - 8) = 0
call bpf_get_prandom_u32
r2 = r0
r2 &= 7
r1 = r10
r1 += -8
call bpf_trace_printk
r0 = 0
exit
