# description: a 4-byte read of the pointer bpf_map.ops
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: reject
ld_pseudo r1, 1, 0
r0 = *(u32 *)(r1 + 40)
r0 = 0
exit
