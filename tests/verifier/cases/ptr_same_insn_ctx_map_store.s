# description: one store reached with a ctx pointer and with a map value pointer
# prog_type: sched_cls
# maps: [{"type": "array", "key_size": 4, "value_size": 64, "max_entries": 1}]
# intent: reject
r6 = r1
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = r6
r2 = *(u32 *)(r6 + 0)
if r2 == 0 goto l1
r1 = r0
l1:
*(u32 *)(r1 + 8) = 0
out:
r0 = 0
exit
