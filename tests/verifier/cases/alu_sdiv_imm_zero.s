# description: signed division by the constant 0
# intent: reject
r0 = 5
r0 s/= 0
exit
