# description: a conditional jump past the last instruction
# intent: reject
call bpf_get_prandom_u32
if r0 > 5 goto +2
exit
