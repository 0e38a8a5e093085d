# description: bpf_trace_printk with a zero size
# prog_type: kprobe
# intent: reject
r1 = r10
r1 += -8
r2 = 0
call bpf_trace_printk
r0 = 0
exit
