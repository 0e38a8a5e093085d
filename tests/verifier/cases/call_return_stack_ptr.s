# description: returning a pointer to the callee's stack
# prog_type: socket_filter
# intent: reject
call f1
r0 = 0
exit
f1:
r0 = r10
r0 += -8
exit
