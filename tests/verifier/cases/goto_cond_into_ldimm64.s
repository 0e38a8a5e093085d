# description: a conditional jump to the second slot of an ld_imm64
# intent: reject
call bpf_get_prandom_u32
if r0 == 0 goto +1
r1 = 0x100000000 ll
r0 = 0
exit
