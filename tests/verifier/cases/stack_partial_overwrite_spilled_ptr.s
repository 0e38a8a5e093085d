# description: overwrite half of a spilled pointer then fill
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 8) = r1
*(u32 *)(r10 - 8) = 0
r2 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r2 + 0)
exit
