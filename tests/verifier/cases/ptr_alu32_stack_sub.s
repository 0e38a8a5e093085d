# description: a 32-bit subtraction on a dead copy of the frame pointer (accepted by 6.18)
# intent: accept
r1 = r10
w1 -= 8
r0 = 0
exit
