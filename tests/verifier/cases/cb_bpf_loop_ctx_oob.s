# description: the callback writes past the 8-byte ctx on the caller's stack
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
*(u64 *)(r10 - 8) = 0
r1 = 4
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
*(u64 *)(r2 + 8) = 1
r0 = 0
exit
