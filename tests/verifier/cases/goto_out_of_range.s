# description: a jump past the end
# prog_type: socket_filter
# intent: reject
r0 = 0
goto +5
exit
