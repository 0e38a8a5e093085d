# description: BPF_PSEUDO_FUNC pointing outside the program
# prog_type: socket_filter
# intent: reject
ld_pseudo r1, 4, 20
r0 = 0
exit
