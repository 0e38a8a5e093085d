# description: self-recursion on a branch the verifier never takes (6.18: check_max_stack_depth)
# intent: reject
r1 = 0
if r1 != 0 goto l1
r0 = 0
exit
l1:
call f
exit
f:
r1 = 0
if r1 != 0 goto l2
r0 = 0
exit
l2:
call f
exit
