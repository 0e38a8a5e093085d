# description: copying r10 then adjusting the copy is fine
# intent: accept
r1 = r10
r1 += -8
*(u64 *)(r1 + 0) = 0
r0 = 0
exit
