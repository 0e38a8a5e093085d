# description: signed division and modulo (cpu v4)
# intent: accept
r0 = -7
r0 s/= 2
r1 = 9
r1 s%= -4
r0 = 0
exit
