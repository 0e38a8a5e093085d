# description: misaligned ctx load
# prog_type: sched_cls
# intent: reject
r0 = *(u32 *)(r1 + 2)
exit
