# description: write then read the same slot
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 1
r0 = *(u64 *)(r10 - 8)
exit
