# description: 300 + 300 bytes of stack along one call chain
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 304) = 0
call f1
exit
f1:
*(u64 *)(r10 - 304) = 0
r0 = 0
exit
