# description: bpf_for_each_map_elem reading the value
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
ld_pseudo r1, 1, 0
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call bpf_for_each_map_elem
r0 = 0
exit
cb:
r0 = *(u64 *)(r3 + 0)
r0 = 0
exit
