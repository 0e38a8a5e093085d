# description: spill a ctx pointer and fill it back, then use it
# prog_type: sched_cls
# intent: accept
*(u64 *)(r10 - 8) = r1
r2 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r2 + 0)
exit
