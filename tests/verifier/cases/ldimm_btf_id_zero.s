# description: BPF_PSEUDO_BTF_ID with id 0 (void, no VAR)
# intent: reject
ld_pseudo r1, 3, 0
r0 = 0
exit
