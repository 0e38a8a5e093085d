# description: reading bpf_map.key_size through a hash map pointer
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: accept
ld_pseudo r1, 1, 0
r0 = *(u32 *)(r1 + 68)
if r0 != 4 goto out
r0 = 0
out:
exit
