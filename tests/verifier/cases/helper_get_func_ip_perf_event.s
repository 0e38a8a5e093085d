# description: bpf_get_func_ip from a perf_event program
# prog_type: perf_event
# intent: reject
call bpf_get_func_ip
r0 = 0
exit
