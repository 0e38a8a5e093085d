# description: a static callee sees the caller's constant (stack offset)
# prog_type: socket_filter
# intent: accept
r1 = 8
call f1
exit
f1:
r2 = r10
r2 += -16
r2 += r1
*(u64 *)(r2 + 0) = 0
r0 = 0
exit
