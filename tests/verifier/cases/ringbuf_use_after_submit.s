# description: writing the record after submitting it
# prog_type: socket_filter
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: reject
ld_pseudo r1, 1, 0
r2 = 16
r3 = 0
call bpf_ringbuf_reserve

if r0 == 0 goto out
r6 = r0
r1 = r0
r2 = 0
call bpf_ringbuf_submit
*(u64 *)(r6 + 0) = 1
out:
r0 = 0
exit
