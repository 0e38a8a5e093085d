# description: xdp_md data/data_end/data_meta loads
# prog_type: xdp
# intent: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = *(u32 *)(r1 + 8)
r0 = *(u32 *)(r1 + 12)
r0 = 2
exit
