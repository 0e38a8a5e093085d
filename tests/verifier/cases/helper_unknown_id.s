# description: helper id 9999 does not exist
# prog_type: socket_filter
# intent: reject
call 9999
r0 = 0
exit
