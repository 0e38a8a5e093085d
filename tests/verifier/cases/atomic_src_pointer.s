# description: atomically adding a pointer into a map value
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
lock *(u64 *)(r0 + 0) += r10
out:
r0 = 0
exit
