# description: two nested may_goto loops
# prog_type: socket_filter
# intent: accept
r0 = 0
outer:
may_goto out
r1 = 0
inner:
may_goto outer
r1 += 1
goto inner
out:
r0 = 0
exit
