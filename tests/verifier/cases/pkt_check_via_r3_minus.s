# description: comparison of data_end-minus-something is not a range check
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r3
r4 -= 14
if r2 > r4 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
