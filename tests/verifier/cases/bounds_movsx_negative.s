# description: a sign-extended byte may be negative
# maps: [{"type": "array", "key_size": 4, "value_size": 48, "max_entries": 4}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
r0 = *(u8 *)(r6 + 8)
r0 = (s8) r0
if r0 > 40 goto out
r6 += r0
r1 = *(u8 *)(r6 + 0)
out:
r0 = 0
exit
