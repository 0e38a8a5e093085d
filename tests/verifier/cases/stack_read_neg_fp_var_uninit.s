# description: read before any write through r10 minus a large offset
# prog_type: socket_filter
# intent: accept
r0 = *(u32 *)(r10 - 300)
exit
