# description: exit without setting r0
# prog_type: socket_filter
# intent: reject
exit
