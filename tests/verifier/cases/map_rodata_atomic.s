# description: an atomic add into a frozen read-only array
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "frozen": true, "initial": "0000000000000000"}]
# intent: reject
ld_pseudo r1, 2, 0, 0
r2 = 1
lock *(u64 *)(r1 + 0) += r2
r0 = 0
exit
