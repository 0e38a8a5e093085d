# description: reading bpf_map.ops (a pointer to a kernel struct) through an array map pointer
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: accept
ld_pseudo r1, 1, 0
r2 = *(u64 *)(r1 + 40)
r0 = 0
exit
