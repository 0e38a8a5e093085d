# description: bpf_probe_read_kernel (GPL-only) from a Proprietary kprobe
# prog_type: kprobe
# license: Proprietary
# intent: reject
r1 = r10
r1 += -8
r2 = 8
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
