# description: passing a scalar where a global function takes a pointer
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["ptr"]}]
# intent: reject
r1 = 5
call f1
exit
f1:
r0 = 0
if r1 == 0 goto out
r0 = *(u64 *)(r1 + 0)
out:
exit
