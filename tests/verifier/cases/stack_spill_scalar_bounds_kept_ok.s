# description: a spilled bounded scalar keeps its bounds
# prog_type: socket_filter
# intent: accept
call bpf_get_prandom_u32
r0 &= 7
*(u64 *)(r10 - 8) = r0
r1 = *(u64 *)(r10 - 8)
r2 = r10
r2 += -16
r2 += r1
*(u8 *)(r2 + 0) = 0
r0 = 0
exit
