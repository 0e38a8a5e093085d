# description: direct value access past the value
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1, "initial": "01000000000000000200000000000000"}]
# intent: reject
ld_pseudo r1, 2, 0, 8
r0 = *(u64 *)(r1 + 8)
r0 = 0
exit
