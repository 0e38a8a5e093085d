# description: a global function reads its scalar argument as memory
# prog_type: sched_cls
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["int"]}]
# intent: reject
r1 = 0
call f1
exit
f1:
r0 = *(u32 *)(r1 + 0)
exit
