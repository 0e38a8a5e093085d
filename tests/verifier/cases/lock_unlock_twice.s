# description: unlocking twice
# prog_type: sched_cls
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1, "spin_lock": 0}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
r1 = r6
call bpf_spin_lock
r1 = r6
call bpf_spin_unlock
r1 = r6
call bpf_spin_unlock
out:
r0 = 0
exit
