# description: the callee reads r2 the caller never set
# prog_type: socket_filter
# intent: reject
r1 = 1
call f1
exit
f1:
r0 = r2
exit
