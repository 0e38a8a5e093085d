# description: stack pointer plus an unbounded scalar, then a store
# intent: reject
call bpf_get_prandom_u32
r1 = r10
r1 += r0
*(u8 *)(r1 - 1) = 0
r0 = 0
exit
