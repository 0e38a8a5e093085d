# description: tc direct packet write
# prog_type: sched_cls
# intent: accept
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 20
if r4 > r3 goto out
*(u32 *)(r2 + 16) = 1
out:
r0 = 0
exit
