# description: writing above the frame pointer
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 + 0) = 1
r0 = 0
exit
