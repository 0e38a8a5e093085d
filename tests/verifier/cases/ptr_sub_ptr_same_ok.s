# description: pointer - pointer of the same region gives a scalar
# intent: accept
r2 = r10
r3 = r10
r3 += -16
r2 -= r3
r0 = r2
exit
