# description: stack pointer minus a constant then access
# intent: reject
r1 = r10
r1 -= 24
*(u64 *)(r1 + 0) = 1
r0 = *(u64 *)(r1 + 0)
exit
