# description: 8-byte read of a slot with only 4 bytes written
# prog_type: socket_filter
# intent: accept
*(u32 *)(r10 - 8) = 1
r0 = *(u64 *)(r10 - 8)
exit
