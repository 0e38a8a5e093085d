# description: atomic exchange on the stack
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 3
r1 = 1
r1 = xchg_64(r10 - 8, r1)
r0 = 0
exit
