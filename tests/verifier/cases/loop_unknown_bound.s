# description: a loop bound by an unknown value counting down
# prog_type: socket_filter
# intent: reject
call bpf_get_prandom_u32
loop:
r0 -= 1
if r0 != 0 goto loop
exit
