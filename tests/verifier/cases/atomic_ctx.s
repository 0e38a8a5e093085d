# description: atomic add on the ctx
# prog_type: sched_cls
# intent: reject
r2 = 1
lock *(u32 *)(r1 + 8) += r2
r0 = 0
exit
