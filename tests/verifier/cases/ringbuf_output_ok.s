# description: bpf_ringbuf_output from the stack
# prog_type: socket_filter
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: accept
*(u64 *)(r10 - 8) = 0
ld_pseudo r1, 1, 0
r2 = r10
r2 += -8
r3 = 8
r4 = 0
call bpf_ringbuf_output
r0 = 0
exit
