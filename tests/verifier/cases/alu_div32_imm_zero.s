# description: 32-bit division by the constant 0
# intent: reject
w0 = 5
w0 /= 0
exit
