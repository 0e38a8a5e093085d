# description: submitting a stack pointer
# prog_type: socket_filter
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: reject
r1 = r10
r1 += -16
r2 = 0
call bpf_ringbuf_submit
r0 = 0
exit
