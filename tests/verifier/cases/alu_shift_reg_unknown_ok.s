# description: shifting by an unknown register is fine
# intent: accept
call bpf_get_prandom_u32
r1 = 1
r1 <<= r0
r0 = 0
exit
