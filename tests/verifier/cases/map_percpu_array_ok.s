# description: percpu array lookup
# prog_type: socket_filter
# maps: [{"type": "percpu_array", "key_size": 4, "value_size": 8, "max_entries": 4}]
# intent: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0

call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = 1
lock *(u64 *)(r0 + 0) += r1
out:
r0 = 0
exit
