# description: a counted loop of 10 iterations
# prog_type: socket_filter
# intent: accept
r0 = 0
r1 = 0
loop:
r0 += r1
r1 += 1
if r1 < 10 goto loop
exit
