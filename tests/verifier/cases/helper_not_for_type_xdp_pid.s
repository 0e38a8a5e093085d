# description: bpf_get_current_pid_tgid from XDP (in 6.18's base helper set: accepted)
# prog_type: xdp
# intent: accept
call bpf_get_current_pid_tgid
r0 = 2
exit
