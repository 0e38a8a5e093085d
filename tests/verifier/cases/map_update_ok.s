# description: bpf_map_update_elem with stack key and value
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: accept
*(u32 *)(r10 - 4) = 0
*(u64 *)(r10 - 16) = 0
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
ld_pseudo r1, 1, 0
call bpf_map_update_elem
r0 = 0
exit
