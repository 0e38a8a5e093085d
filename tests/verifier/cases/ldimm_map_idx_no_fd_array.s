# description: BPF_PSEUDO_MAP_IDX without an fd_array
# prog_type: socket_filter
# intent: reject
ld_pseudo r1, 5, 0
r0 = 0
exit
