# description: pt_regs is read-only
# prog_type: kprobe
# intent: reject
*(u64 *)(r1 + 0) = 0
r0 = 0
exit
