# description: 32-bit add on a pointer
# intent: reject
r2 = r10
w2 += 8
r0 = 0
exit
