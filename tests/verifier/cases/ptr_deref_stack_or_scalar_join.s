# description: dereferencing a value that is a scalar on one path
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = r10
r3 += -8
*(u64 *)(r10 - 8) = 0
if r2 == 0 goto l1
r3 = 0
l1:
r0 = *(u64 *)(r3 + 0)
exit
