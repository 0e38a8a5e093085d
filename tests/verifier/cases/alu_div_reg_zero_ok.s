# description: division by a register that may be zero is allowed (result 0)
# intent: accept
call bpf_get_prandom_u32
r1 = 10
r1 /= r0
r0 = r1
exit
