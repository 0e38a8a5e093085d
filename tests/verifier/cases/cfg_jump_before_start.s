# description: a jump to before the first instruction
# intent: reject
r0 = 0
if r0 == 0 goto -3
exit
