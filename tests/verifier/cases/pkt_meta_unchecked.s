# description: data_meta read without a check
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = *(u32 *)(r1 + 8)
r0 = *(u32 *)(r4 + 0)
r0 = 2
exit
