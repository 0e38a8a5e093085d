# description: a misaligned stack store (privileged, no strict alignment)
# prog_type: socket_filter
# intent: reject
*(u32 *)(r10 - 6) = 1
r0 = 0
exit
