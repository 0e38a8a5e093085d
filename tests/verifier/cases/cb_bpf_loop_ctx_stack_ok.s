# description: the callback writes through the ctx pointer (caller stack)
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
*(u64 *)(r10 - 8) = 0
r1 = 4
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call bpf_loop
r0 = *(u64 *)(r10 - 8)
exit
cb:
r3 = *(u64 *)(r2 + 0)
r3 += r1
*(u64 *)(r2 + 0) = r3
r0 = 0
exit
