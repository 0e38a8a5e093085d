# description: outer lookup gives a map pointer, inner lookup its value
# prog_type: socket_filter
# maps: [{"type": "array_of_maps", "key_size": 4, "value_size": 4, "max_entries": 2, "inner": {"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = r0
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r0 = *(u64 *)(r0 + 0)
out:
r0 = 0
exit
