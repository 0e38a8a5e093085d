# description: a ring buffer record submitted on one branch only
# prog_type: socket_filter
# maps: [{"type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096}]
# intent: reject
r6 = r1
ld_pseudo r1, 1, 0
r2 = 8
r3 = 0
call bpf_ringbuf_reserve
if r0 == 0 goto out
r7 = *(u32 *)(r6 + 0)
if r7 == 0 goto out
r1 = r0
r2 = 0
call bpf_ringbuf_discard
out:
r0 = 0
exit
