# description: negating a pointer
# intent: accept
r2 = r10
r2 = -r2
r0 = 0
exit
