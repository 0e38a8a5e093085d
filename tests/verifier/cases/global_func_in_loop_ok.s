# description: a global function called in a bounded loop (verified once)
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["int"]}]
# intent: accept
r6 = 0
loop:
r1 = r6
call f1
r6 += 1
if r6 < 50 goto loop
r0 = 0
exit
f1:
r0 = r1
r0 *= 3
exit
