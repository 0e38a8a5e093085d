# description: BPF_PSEUDO_BTF_ID with an id past the kernel's last type
# intent: reject
ld_pseudo r1, 3, 0x7fffffff
r0 = 0
exit
