# description: one load reached with a ctx pointer and with a stack pointer
# prog_type: sched_cls
# intent: reject
r2 = *(u32 *)(r1 + 0)
*(u64 *)(r10 - 8) = 0
if r2 == 0 goto l1
r1 = r10
r1 += -8
l1:
r0 = *(u32 *)(r1 + 0)
r0 = 0
exit
