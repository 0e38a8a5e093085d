# description: an atomic add on a map pointer
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: reject
ld_pseudo r1, 1, 0
r2 = 1
lock *(u64 *)(r1 + 0) += r2
r0 = 0
exit
