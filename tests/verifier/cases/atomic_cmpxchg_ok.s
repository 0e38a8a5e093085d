# description: cmpxchg with r0 set
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 3
r0 = 3
r1 = 4
r0 = cmpxchg_64(r10 - 8, r0, r1)
exit
