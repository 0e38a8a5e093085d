# description: a static subprogram returning its argument plus one
# prog_type: socket_filter
# intent: accept
r1 = 41
call f1
exit
f1:
r0 = r1
r0 += 1
exit
