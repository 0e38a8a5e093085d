# description: a loop bound by a masked unknown value
# prog_type: socket_filter
# intent: accept
call bpf_get_prandom_u32
r0 &= 15
r1 = 0
loop:
r1 += 1
if r1 < r0 goto loop
r0 = 0
exit
