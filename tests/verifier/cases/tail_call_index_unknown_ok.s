# description: bpf_tail_call with an unknown index
# prog_type: xdp
# maps: [{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: accept
r6 = r1
call bpf_get_prandom_u32
r3 = r0
r1 = r6
ld_pseudo r2, 1, 0
call bpf_tail_call
r0 = 0
exit
