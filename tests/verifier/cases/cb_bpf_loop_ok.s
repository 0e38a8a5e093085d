# description: bpf_loop with a callback returning 0
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
r1 = 10
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
r0 = 0
exit
