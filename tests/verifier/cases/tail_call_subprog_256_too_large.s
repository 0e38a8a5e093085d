# description: a tail call under a caller with exactly 256 bytes of stack is too large (the limit is < 256)
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
*(u64 *)(r10 - 256) = 0
call f1
exit
f1:
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
