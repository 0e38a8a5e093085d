# description: sock_ops returning 2
# prog_type: sock_ops
# intent: reject
r0 = 2
exit
