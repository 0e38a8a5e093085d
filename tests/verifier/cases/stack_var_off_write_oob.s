# description: a variable-offset stack write that may leave the stack
# intent: reject
call bpf_get_prandom_u32
r0 &= 15
r1 = r10
r1 += r0
*(u8 *)(r1 - 8) = 0
r0 = 0
exit
