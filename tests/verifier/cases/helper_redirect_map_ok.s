# description: bpf_redirect_map on a devmap
# prog_type: xdp
# maps: [{"type": "devmap", "key_size": 4, "value_size": 4, "max_entries": 4}]
# intent: accept
ld_pseudo r1, 1, 0
r2 = 0
r3 = 0
call bpf_redirect_map
exit
