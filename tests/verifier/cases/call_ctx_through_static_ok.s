# description: ctx passed to a static subprogram stays ctx
# prog_type: sched_cls
# intent: accept
call f1
exit
f1:
r0 = *(u32 *)(r1 + 0)
exit
