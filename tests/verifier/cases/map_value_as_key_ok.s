# description: a map value used as the key of another lookup
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
if r0 == 0 goto out
r2 = r0
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
out:
r0 = 0
exit
