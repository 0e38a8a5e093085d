# description: xdp_md has 24 bytes
# prog_type: xdp
# intent: reject
r0 = *(u32 *)(r1 + 24)
exit
