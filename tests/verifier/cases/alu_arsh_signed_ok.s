# description: arithmetic shift and sign-extending moves
# intent: accept
r0 = -16
r0 s>>= 2
r1 = (s8) r0
w2 = (s16) w0
r0 = 0
exit
