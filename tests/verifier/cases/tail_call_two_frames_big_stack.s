# description: a tail call under two callers whose stacks add up to 320 bytes
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}, {"linkage": "static"}]
# intent: reject
*(u64 *)(r10 - 160) = 0
call f1
exit
f1:
*(u64 *)(r10 - 160) = 0
call f2
exit
f2:
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
