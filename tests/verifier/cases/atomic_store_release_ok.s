# description: store-release to the stack
# prog_type: socket_filter
# intent: accept
r1 = 3
store_release((u64 *)(r10 - 8), r1)
r0 = *(u64 *)(r10 - 8)
exit
