# description: a global function dereferences a maybe-NULL pointer argument
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["ptr"]}]
# intent: reject
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
call f1
exit
f1:
r0 = *(u64 *)(r1 + 0)
exit
