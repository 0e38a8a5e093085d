# description: dereferencing a scalar
# intent: reject
r1 = 4096
r0 = *(u64 *)(r1 + 0)
exit
