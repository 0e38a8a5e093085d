# description: a subprogram calling itself
# prog_type: socket_filter
# intent: reject
call f1
exit
f1:
call f1
r0 = 0
exit
