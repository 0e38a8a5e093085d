# description: a 1000 x 1000 loop nest the verifier cannot prune
# prog_type: socket_filter
# intent: reject
r1 = 0
outer:
r2 = 0
inner:
r2 += 1
if r2 < 1000 goto inner
r1 += 1
if r1 < 1000 goto outer
r0 = 0
exit
