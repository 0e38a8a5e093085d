# description: 100 iterations with a stack access
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 0
r1 = 0
loop:
r2 = *(u64 *)(r10 - 8)
r2 += r1
*(u64 *)(r10 - 8) = r2
r1 += 1
if r1 < 100 goto loop
r0 = 0
exit
