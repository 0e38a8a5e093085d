# description: packet pointer plus an unbounded scalar
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r6 = r2
call bpf_get_prandom_u32
r6 += r0
r0 = 2
exit
