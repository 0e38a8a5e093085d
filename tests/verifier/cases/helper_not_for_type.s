# description: bpf_xdp_adjust_head from a socket filter
# prog_type: socket_filter
# intent: reject
r2 = 0
call bpf_xdp_adjust_head
r0 = 0
exit
