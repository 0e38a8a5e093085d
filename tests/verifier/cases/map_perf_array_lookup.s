# description: bpf_map_lookup_elem on a perf event array
# prog_type: socket_filter
# maps: [{"type": "perf_event_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
r0 = 0
exit
