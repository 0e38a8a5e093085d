# description: r1-r5 are scratched by a helper call
# intent: reject
call bpf_ktime_get_ns
r0 = r1
exit
