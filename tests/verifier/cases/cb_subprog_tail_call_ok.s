# description: a bpf_loop callback calls a static subprogram that tail-calls (6.18 accepts it)
# prog_type: sched_cls
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}, {"linkage": "static"}]
# intent: accept
*(u64 *)(r10 - 8) = r1
r1 = 1
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call bpf_loop
r0 = 0
exit
cb:
r1 = *(u64 *)(r2 + 0)
call f2
r0 = 0
exit
f2:
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
