# description: ld_imm64 map value on a hash map
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: reject
ld_pseudo r1, 2, 0, 0
r0 = 0
exit
