# description: bpf_ringbuf_output into a hash map
# prog_type: socket_filter
# maps: [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: reject
*(u64 *)(r10 - 8) = 0
ld_pseudo r1, 1, 0
r2 = r10
r2 += -8
r3 = 8
r4 = 0
call bpf_ringbuf_output
r0 = 0
exit
