# description: a store through a ring buffer map pointer
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: reject
ld_pseudo r1, 1, 0
*(u32 *)(r1 + 68) = 0
r0 = 0
exit
