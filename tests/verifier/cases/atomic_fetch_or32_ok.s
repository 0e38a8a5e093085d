# description: 32-bit atomic fetch-or
# prog_type: socket_filter
# intent: accept
*(u32 *)(r10 - 4) = 3
w1 = 4
w1 = atomic_fetch_or((u32 *)(r10 - 4), w1)
r0 = 0
exit
