# description: tc direct packet read
# prog_type: sched_cls
# intent: accept
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 20
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 16)
out:
r0 = 0
exit
