# description: a copy is checked, the original gets the same knowledge
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 16}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
r6 = r0
if r6 == 0 goto out
r0 = *(u64 *)(r0 + 0)
out:
r0 = 0
exit
