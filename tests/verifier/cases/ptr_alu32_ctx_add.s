# description: a 32-bit add on the context pointer
# intent: reject
w1 += 4
r0 = 0
exit
