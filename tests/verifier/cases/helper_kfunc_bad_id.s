# description: a kfunc call with an id that is no function
# prog_type: sched_cls
# intent: reject
call kfunc:1
r0 = 0
exit
