# description: a subprogram whose last instruction is a helper call
# intent: reject
call f
r0 = 0
exit
f:
r0 = 0
call bpf_get_prandom_u32
