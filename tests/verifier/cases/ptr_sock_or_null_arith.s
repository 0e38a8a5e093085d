# description: arithmetic on a maybe-NULL socket from the context
# prog_type: sched_cls
# intent: reject
r1 = *(u64 *)(r1 + 168)
r1 += 4
r0 = 0
exit
