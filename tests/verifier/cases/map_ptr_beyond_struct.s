# description: reading past the end of struct bpf_htab
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: reject
ld_pseudo r1, 1, 0
r0 = *(u64 *)(r1 + 4096)
r0 = 0
exit
