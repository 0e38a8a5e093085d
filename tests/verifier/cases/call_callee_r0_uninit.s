# description: the callee exits without setting r0
# prog_type: socket_filter
# intent: reject
call f1
exit
f1:
exit
