# description: an 8-byte read spanning bpf_map.max_entries and the next member
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: reject
ld_pseudo r1, 1, 0
r0 = *(u64 *)(r1 + 76)
r0 = 0
exit
