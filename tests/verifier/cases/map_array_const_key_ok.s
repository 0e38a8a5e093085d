# description: array lookup with a constant in-range key
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 48, "max_entries": 4}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
if r0 == 0 goto out
r0 = *(u32 *)(r0 + 44)
out:
r0 = 0
exit
