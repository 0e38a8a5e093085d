# description: or-ing a pointer
# intent: reject
r1 |= 1
r0 = 0
exit
