# description: size larger than the stack buffer
# prog_type: kprobe
# intent: reject
r1 = r10
r1 += -16
r2 = 32
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
