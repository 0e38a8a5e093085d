# description: reading a stack slot never written
# prog_type: socket_filter
# intent: accept
r0 = *(u64 *)(r10 - 8)
exit
