# description: a reachable jump into the second half of ld_imm64
# prog_type: socket_filter
# intent: reject
call bpf_get_prandom_u32
if r0 == 0 goto +1
r1 = 0x100000000 ll
r0 = 0
exit
