# description: callee-saved r6 keeps its value across a helper call
# intent: accept
r6 = 7
call bpf_ktime_get_ns
r0 = r6
exit
