# description: 8-byte value, read at 4
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
if r0 == 0 goto out
r0 = *(u64 *)(r0 + 4)
out:
r0 = 0
exit
