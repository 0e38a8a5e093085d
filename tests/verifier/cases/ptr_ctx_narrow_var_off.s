# description: ctx access through a register with a variable offset
# prog_type: xdp
# intent: reject
r6 = r1
call bpf_get_prandom_u32
r0 &= 4
r6 += r0
r0 = *(u32 *)(r6 + 0)
exit
