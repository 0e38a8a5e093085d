# description: shift by 64 is out of range
# intent: reject
r0 = 1
r0 <<= 64
exit
