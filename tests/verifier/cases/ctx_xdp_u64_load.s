# description: xdp_md fields are u32
# prog_type: xdp
# intent: reject
r0 = *(u64 *)(r1 + 0)
exit
