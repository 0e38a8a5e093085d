# description: a stack buffer of variable offset passed to a helper
# prog_type: kprobe
# intent: accept
*(u64 *)(r10 - 8) = 0
*(u64 *)(r10 - 16) = 0
call bpf_get_prandom_u32
r0 &= 4
r1 = r10
r1 += -12
r1 += r0
r2 = 4
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
