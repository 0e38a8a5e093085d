# description: pt_regs reads
# prog_type: kprobe
# intent: accept
r0 = *(u64 *)(r1 + 112)
r0 = 0
exit
