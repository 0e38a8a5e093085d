# description: atomic fetch-add returns the old value
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 3
r1 = 1
r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
r0 = r1
exit
