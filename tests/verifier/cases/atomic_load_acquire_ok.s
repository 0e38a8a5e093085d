# description: load-acquire from the stack
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 3
r0 = load_acquire((u64 *)(r10 - 8))
exit
