# description: bpf_trace_printk (GPL-only) from an MIT-licensed kprobe
# prog_type: kprobe
# license: MIT
# intent: reject
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
r2 = 8
call bpf_trace_printk
r0 = 0
exit
