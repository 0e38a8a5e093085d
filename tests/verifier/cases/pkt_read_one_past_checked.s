# description: 2-byte read after checking 1 byte (log: invalid access to packet)
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u16 *)(r2 + 0)
out:
r0 = 1
exit
