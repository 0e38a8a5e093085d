# description: ld_imm64 of a map used as memory
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: accept
ld_pseudo r1, 1, 0
r0 = *(u64 *)(r1 + 0)
r0 = 0
exit
