# description: __sk_buff len and mark loads in tc
# prog_type: sched_cls
# intent: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 8)
r0 = 0
exit
