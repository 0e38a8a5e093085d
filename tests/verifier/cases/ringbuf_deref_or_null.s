# description: writing into ringbuf memory before the NULL check
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: reject
ld_pseudo r1, 1, 0
r2 = 8
r3 = 0
call bpf_ringbuf_reserve
*(u64 *)(r0 + 0) = 0
r0 = 0
exit
