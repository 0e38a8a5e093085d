# description: store through a copy of r10 with an offset
# prog_type: socket_filter
# intent: accept
r2 = r10
r2 += -32
*(u64 *)(r2 + 8) = 3
r0 = *(u64 *)(r10 - 24)
exit
