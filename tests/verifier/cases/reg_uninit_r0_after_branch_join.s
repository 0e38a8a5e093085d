# description: r0 set on one path only
# intent: reject
r2 = *(u32 *)(r1 + 0)
if r2 == 0 goto out
r0 = 0
out:
exit
