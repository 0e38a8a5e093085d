# description: an index in [0, 15] and a 2-byte load from a 16-byte value
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
call bpf_get_prandom_u32
r0 &= 15
r6 += r0
r1 = *(u16 *)(r6 + 0)
out:
r0 = 0
exit
