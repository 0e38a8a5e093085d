# description: bpf_map_push_elem on a queue
# prog_type: socket_filter
# maps: [{"type": "queue", "key_size": 0, "value_size": 8, "max_entries": 4}]
# intent: accept
*(u64 *)(r10 - 8) = 1
r2 = r10
r2 += -8
r3 = 0
ld_pseudo r1, 1, 0
call bpf_map_push_elem
r0 = 0
exit
