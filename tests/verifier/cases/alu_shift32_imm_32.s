# description: 32-bit shift by 32 is out of range
# intent: reject
w0 = 1
w0 <<= 32
exit
