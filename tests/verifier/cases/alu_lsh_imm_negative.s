# description: a left shift by a negative constant
# intent: reject
r0 = 5
r0 <<= -1
exit
