# description: a global function with a scalar argument
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["int"]}]
# intent: accept
r1 = 41
call f1
exit
f1:
r0 = r1
r0 += 1
exit
