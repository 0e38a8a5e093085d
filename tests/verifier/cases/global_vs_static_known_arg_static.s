# description: the same program with a static callee
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "static", "args": ["int"]}]
# intent: accept
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
