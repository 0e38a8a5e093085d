# description: a global function NULL-checks its pointer argument
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["ptr"]}]
# intent: accept
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
call f1
exit
f1:
r0 = 0
if r1 == 0 goto out
r0 = *(u64 *)(r1 + 0)
out:
exit
