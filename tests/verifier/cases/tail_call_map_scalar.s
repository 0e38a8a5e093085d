# description: bpf_tail_call with a scalar as the prog array
# prog_type: xdp
# intent: reject
r2 = 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
