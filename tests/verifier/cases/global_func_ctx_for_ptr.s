# description: passing the ctx to a global function's pointer (to long) argument
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["ptr"]}]
# intent: reject
call f1
exit
f1:
r0 = 0
if r1 == 0 goto out
r0 = *(u64 *)(r1 + 0)
out:
exit
