# description: callee-saved registers survive a call
# prog_type: socket_filter
# intent: accept
r6 = 3
call f1
r0 = r6
exit
f1:
r6 = 9
r0 = 0
exit
