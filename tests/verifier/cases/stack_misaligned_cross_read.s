# description: reading 8 bytes across two slots, one partially written
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 8) = 1
r0 = *(u64 *)(r10 - 12)
exit
