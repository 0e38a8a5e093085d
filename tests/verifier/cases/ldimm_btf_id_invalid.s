# description: BPF_PSEUDO_BTF_ID with an id that is no VAR
# prog_type: socket_filter
# intent: reject
ld_pseudo r1, 3, 1
r0 = 0
exit
