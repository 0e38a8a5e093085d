# description: the key on the stack is not initialised
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: accept
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
r0 = 0
exit
