# description: the program does not end with exit
# prog_type: socket_filter
# intent: reject
r0 = 0
