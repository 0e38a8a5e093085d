# description: an instruction after exit no path reaches
# prog_type: socket_filter
# intent: reject
r0 = 0
exit
r0 = 1
exit
