# description: variable-offset stack read of initialised memory
# intent: accept
*(u64 *)(r10 - 16) = 0
*(u64 *)(r10 - 8) = 0
call bpf_get_prandom_u32
r0 &= 7
r1 = r10
r1 += -16
r1 += r0
r0 = *(u8 *)(r1 + 0)
exit
