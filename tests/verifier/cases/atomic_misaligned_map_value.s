# description: a 4-byte atomic add at offset 2 of a map value
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = 1
lock *(u32 *)(r0 + 2) += r1
out:
r0 = 0
exit
