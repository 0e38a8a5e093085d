# description: a 5000-iteration loop stays under the limit
# prog_type: socket_filter
# intent: accept
r1 = 0
loop:
r1 += 1
if r1 < 5000 goto loop
r0 = 0
exit
