# description: a static subprogram takes the lock, main exits without unlocking
# prog_type: sched_cls
# maps: [{"type": "array", "key_size": 4, "value_size": 16, "max_entries": 1, "spin_lock": 0}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = r0
call f1
out:
r0 = 0
exit
f1:
call bpf_spin_lock
r0 = 0
exit
