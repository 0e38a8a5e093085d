# description: a map key that runs past the top of the stack
# maps: [{"type": "hash", "key_size": 8, "value_size": 8, "max_entries": 4}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
r0 = 0
exit
