# description: a subprogram nothing calls
# prog_type: socket_filter
# intent: reject
r0 = 0
exit
f1:
r0 = 1
exit
