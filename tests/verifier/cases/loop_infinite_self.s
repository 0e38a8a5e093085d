# description: a jump to itself
# prog_type: socket_filter
# intent: reject
r0 = 0
l:
goto l
