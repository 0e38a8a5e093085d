# description: the last subprogram does not end with exit
# prog_type: socket_filter
# intent: reject
call f1
exit
f1:
r0 = 0
