# description: a GPL-only helper from a "Dual MIT/GPL" program is allowed
# prog_type: kprobe
# license: Dual MIT/GPL
# intent: accept
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
r2 = 8
call bpf_trace_printk
r0 = 0
exit
