# description: the callee writes through a pointer to the caller's stack
# prog_type: socket_filter
# intent: accept
r1 = r10
r1 += -8
call f1
r0 = *(u64 *)(r10 - 8)
exit
f1:
*(u64 *)(r1 + 0) = 7
r0 = 0
exit
