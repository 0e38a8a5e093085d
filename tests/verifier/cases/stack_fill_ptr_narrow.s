# description: a 4-byte fill of a spilled pointer
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 8) = r1
r2 = *(u32 *)(r10 - 8)
r0 = 0
exit
