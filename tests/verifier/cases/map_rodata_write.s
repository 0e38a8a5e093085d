# description: writing frozen .rodata
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "frozen": true, "initial": "0500000000000000"}]
# intent: reject
ld_pseudo r1, 2, 0, 0
*(u32 *)(r1 + 0) = 1
r0 = 0
exit
