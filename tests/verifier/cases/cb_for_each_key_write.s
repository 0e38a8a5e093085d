# description: the for_each callback writes to the key
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
ld_pseudo r1, 1, 0
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call bpf_for_each_map_elem
r0 = 0
exit
cb:
*(u32 *)(r2 + 0) = 1
r0 = 0
exit
