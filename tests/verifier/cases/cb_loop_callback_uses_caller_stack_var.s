# description: the callback reads the caller's r10 stack through ctx
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
*(u64 *)(r10 - 16) = 5
*(u64 *)(r10 - 8) = 0
r1 = 3
ld_pseudo r2, 4, 7
r3 = r10
r3 += -16
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
r0 = *(u64 *)(r2 + 8)
r0 = 1
exit
