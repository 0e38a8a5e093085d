# description: a jump from a subprogram into main
# prog_type: socket_filter
# intent: reject
r0 = 0
back:
call f1
exit
f1:
goto back
