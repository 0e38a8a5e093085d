# description: bpf_ringbuf_submit given a map value instead of a ringbuf record
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = r0
r2 = 0
call bpf_ringbuf_submit
out:
r0 = 0
exit
