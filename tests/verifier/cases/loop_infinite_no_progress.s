# description: a loop whose state never changes
# prog_type: socket_filter
# intent: reject
r0 = 0
r1 = 0
loop:
if r1 == 0 goto loop
exit
