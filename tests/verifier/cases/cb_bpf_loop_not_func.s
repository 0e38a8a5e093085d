# description: bpf_loop with a scalar callback
# prog_type: socket_filter
# intent: reject
r1 = 10
r2 = 0
r3 = 0
r4 = 0
call bpf_loop
r0 = 0
exit
