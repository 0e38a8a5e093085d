# description: a loop with an out-of-bounds stack access in a late iteration
# prog_type: socket_filter
# intent: reject
r1 = r10
r1 += -8
r2 = 0
loop:
*(u64 *)(r1 + 0) = 0
r1 += -8
r2 += 1
if r2 < 70 goto loop
r0 = 0
exit
