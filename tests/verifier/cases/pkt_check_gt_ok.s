# description: data + 14 > data_end check then read
# prog_type: xdp
# intent: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto out
r0 = *(u16 *)(r2 + 12)
out:
r0 = 2
exit
