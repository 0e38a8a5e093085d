# description: cmpxchg reads r0, which is not set
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 8) = 3
r1 = 4
r0 = cmpxchg_64(r10 - 8, r0, r1)
exit
