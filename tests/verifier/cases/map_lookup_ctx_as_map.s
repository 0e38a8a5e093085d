# description: bpf_map_lookup_elem with the ctx as the map argument
# prog_type: socket_filter
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
call bpf_map_lookup_elem
r0 = 0
exit
