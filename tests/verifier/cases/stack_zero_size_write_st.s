# description: a byte store at r10-1 and read back
# prog_type: socket_filter
# intent: accept
*(u8 *)(r10 - 1) = 5
r0 = *(u8 *)(r10 - 1)
exit
