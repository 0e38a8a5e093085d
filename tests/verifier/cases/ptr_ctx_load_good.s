# description: ctx field load with the offset in the instruction
# prog_type: sched_cls
# intent: accept
r0 = *(u32 *)(r1 + 8)
exit
