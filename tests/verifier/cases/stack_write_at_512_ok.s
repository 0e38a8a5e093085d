# description: the deepest 8 bytes of the 512-byte stack
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 512) = 1
r0 = 0
exit
