# description: bpf_get_func_ip from a tracepoint program
# prog_type: tracepoint
# intent: reject
call bpf_get_func_ip
r0 = 0
exit
