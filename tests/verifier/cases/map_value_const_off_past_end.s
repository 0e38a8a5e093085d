# description: a 4-byte load at offset 8 of an 8-byte value (log: invalid access to map value)
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r0 = *(u32 *)(r0 + 8)
out:
r0 = 0
exit
