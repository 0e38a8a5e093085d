# description: adding to the frame pointer
# intent: reject
r10 += 8
r0 = 0
exit
