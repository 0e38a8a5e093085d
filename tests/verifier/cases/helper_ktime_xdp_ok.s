# description: bpf_ktime_get_ns from XDP
# prog_type: xdp
# intent: accept
call bpf_ktime_get_ns
r0 = 2
exit
