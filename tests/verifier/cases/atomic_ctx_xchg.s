# description: an atomic exchange on the context
# prog_type: sched_cls
# intent: reject
r2 = 0
r2 = xchg_64(r1 + 8, r2)
r0 = 0
exit
