# description: probe_read with size 0 is allowed (ARG_CONST_SIZE_OR_ZERO)
# prog_type: kprobe
# intent: accept
r1 = r10
r1 += -16
r2 = 0
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
