# description: writing xdp_md->data
# prog_type: xdp
# intent: reject
*(u32 *)(r1 + 0) = 0
r0 = 1
exit
