# description: atomic add on an uninitialised stack slot
# prog_type: socket_filter
# intent: accept
r1 = 1
lock *(u64 *)(r10 - 8) += r1
r0 = 0
exit
