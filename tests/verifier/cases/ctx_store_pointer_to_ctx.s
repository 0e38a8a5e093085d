# description: storing a pointer into the ctx
# prog_type: sched_cls
# intent: accept
*(u32 *)(r1 + 48) = r10
r0 = 0
exit
