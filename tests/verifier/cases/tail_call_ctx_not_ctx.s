# description: bpf_tail_call with a stack pointer as ctx
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: reject
r1 = r10
ld_pseudo r2, 1, 0
r3 = 0
call bpf_tail_call
r0 = 0
exit
