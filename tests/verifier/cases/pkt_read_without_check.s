# description: reading the packet without comparing against data_end
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = *(u8 *)(r2 + 0)
r0 = 1
exit
