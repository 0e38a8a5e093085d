# description: a scalar where a memory pointer is expected
# prog_type: kprobe
# intent: reject
r1 = 0
r2 = 8
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
