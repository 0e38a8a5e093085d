# description: bpf_tail_call then a fall-through return
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: accept
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
