# description: index < 42 then an 8-byte read overruns
# maps: [{"type": "array", "key_size": 4, "value_size": 48, "max_entries": 4}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
call bpf_get_prandom_u32
if r0 >= 42 goto out
r6 += r0
r1 = *(u64 *)(r6 + 0)
out:
r0 = 0
exit
