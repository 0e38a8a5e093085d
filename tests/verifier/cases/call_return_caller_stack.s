# description: a subprogram returns the caller's stack pointer it was given
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
call f1
r0 = 0
exit
f1:
r0 = r1
exit
