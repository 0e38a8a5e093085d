# description: a bpf_loop callback returning 5
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
r1 = 10
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
r0 = 5
exit
