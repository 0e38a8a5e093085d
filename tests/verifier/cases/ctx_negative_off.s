# description: a context load at a negative offset
# prog_type: sched_cls
# intent: reject
r0 = *(u32 *)(r1 - 4)
exit
