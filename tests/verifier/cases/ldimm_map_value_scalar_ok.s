# description: reading global data through a pseudo map value
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "initial": "0000000007000000"}]
# intent: accept
ld_pseudo r1, 2, 0, 4
r0 = *(u32 *)(r1 + 0)
exit
