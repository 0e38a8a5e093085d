# description: a possibly negative size
# prog_type: kprobe
# intent: reject
call bpf_get_prandom_u32
r2 = r0
r2 s>>= 60
r1 = r10
r1 += -64
r3 = 0
call bpf_probe_read_kernel
r0 = 0
exit
