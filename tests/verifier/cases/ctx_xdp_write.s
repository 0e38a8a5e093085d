# description: writing to xdp_md
# prog_type: xdp
# intent: reject
*(u32 *)(r1 + 12) = 0
r0 = 2
exit
