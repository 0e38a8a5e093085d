# description: direct value access (ld_imm64 map value) to .data
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1, "initial": "01000000000000000200000000000000"}]
# intent: accept
ld_pseudo r1, 2, 0, 8
r0 = *(u64 *)(r1 + 0)
*(u64 *)(r1 - 8) = r0
r0 = 0
exit
