# description: a tail call from a static subprogram (with func_info)
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
call f1
exit
f1:
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
