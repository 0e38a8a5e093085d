# description: a 32-bit arithmetic right shift by 33
# intent: reject
w0 = 5
w0 s>>= 33
exit
