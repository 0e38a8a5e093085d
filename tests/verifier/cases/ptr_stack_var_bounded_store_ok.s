# description: stack pointer plus a bounded scalar (variable offset write, privileged)
# intent: accept
call bpf_get_prandom_u32
r0 &= 7
r1 = r10
r1 += -16
r1 += r0
*(u8 *)(r1 + 0) = 0
r0 = 0
exit
