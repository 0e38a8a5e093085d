# description: ld_imm64 map value with offset beyond the value
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1, "initial": "00000000000000000000000000000000"}]
# intent: reject
ld_pseudo r1, 2, 0, 64
r0 = 0
exit
