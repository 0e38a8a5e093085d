# description: the program ends in a conditional jump, so execution can fall off the end
# intent: reject
call bpf_get_prandom_u32
l0:
r0 += 1
if r0 < 10 goto l0
