# description: bpf_map_update_elem on a prog array from a program
# prog_type: socket_filter
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: reject
*(u32 *)(r10 - 4) = 0
*(u32 *)(r10 - 8) = 0
ld_pseudo r1, 1, 0
r2 = r10
r2 += -4
r3 = r10
r3 += -8
r4 = 0
call bpf_map_update_elem
r0 = 0
exit
