# description: f calls g calls f, never executed
# intent: reject
r1 = 0
if r1 != 0 goto l1
r0 = 0
exit
l1:
call f
exit
f:
call g
exit
g:
call f
r0 = 0
exit
