# description: a tail call inside a bpf_loop callback
# prog_type: socket_filter
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
*(u64 *)(r10 - 8) = r1
r1 = 1
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
r1 = *(u64 *)(r2 + 0)
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
