# description: scalar - pointer
# intent: reject
r2 = 100
r2 -= r10
r0 = 0
exit
