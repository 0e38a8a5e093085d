# description: a call past the end of the program
# prog_type: socket_filter
# intent: reject
call pc+10
r0 = 0
exit
