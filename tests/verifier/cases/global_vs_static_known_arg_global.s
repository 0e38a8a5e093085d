# description: a global callee does not see the caller's constant
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["int"]}]
# intent: reject
r1 = 8
call f1
exit
f1:
r2 = r10
r2 += -16
r2 += r1
*(u64 *)(r2 + 0) = 0
r0 = 0
exit
