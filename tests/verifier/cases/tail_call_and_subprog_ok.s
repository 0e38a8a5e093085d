# description: tail calls and bpf-to-bpf calls in one program (the x86-64 JIT supports the mix)
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: accept
r6 = r1
call f1
r1 = r6
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
f1:
r0 = 0
exit
