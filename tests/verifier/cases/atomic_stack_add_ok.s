# description: atomic add on an initialised stack slot
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 0
r1 = 1
lock *(u64 *)(r10 - 8) += r1
r0 = *(u64 *)(r10 - 8)
exit
