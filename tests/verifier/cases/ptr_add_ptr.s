# description: pointer + pointer
# intent: reject
r2 = r10
r2 += r1
r0 = 0
exit
