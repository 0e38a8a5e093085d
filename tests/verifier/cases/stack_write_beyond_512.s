# description: writing below 512 bytes
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 520) = 1
r0 = 0
exit
