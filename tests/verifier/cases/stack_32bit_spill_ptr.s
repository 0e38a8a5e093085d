# description: a 32-bit store of a pointer register
# prog_type: socket_filter
# intent: reject
*(u32 *)(r10 - 8) = r1
r2 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r2 + 0)
exit
