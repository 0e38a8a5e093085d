# description: data_end < data + 14 (reversed operands)
# prog_type: xdp
# intent: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 < r4 goto out
r0 = *(u32 *)(r2 + 10)
out:
r0 = 2
exit
