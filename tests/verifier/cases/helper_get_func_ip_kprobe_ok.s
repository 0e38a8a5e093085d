# description: bpf_get_func_ip from a kprobe
# prog_type: kprobe
# intent: accept
call bpf_get_func_ip
r0 = 0
exit
