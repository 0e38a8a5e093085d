# description: a subprogram stores a stack pointer on its stack and returns a scalar
# prog_type: socket_filter
# intent: accept
call f1
exit
f1:
r1 = r10
r1 += -16
*(u64 *)(r10 - 8) = r1
r0 = 0
exit
