# description: pt_regs is 168 bytes on x86_64
# prog_type: kprobe
# intent: reject
r0 = *(u64 *)(r1 + 168)
r0 = 0
exit
