# description: an endless loop made finite by may_goto
# prog_type: socket_filter
# intent: accept
r0 = 0
loop:
may_goto out
r0 += 1
goto loop
out:
r0 = 0
exit
