# description: a conditional jump with offset 0
# prog_type: socket_filter
# intent: accept
r0 = 0
if r0 == 0 goto +0
exit
