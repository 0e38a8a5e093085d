# description: the frame pointer is read only
# intent: reject
r10 = 0
r0 = 0
exit
