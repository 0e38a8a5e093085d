# description: syscall programs must be sleepable
# prog_type: syscall
# intent: reject
r0 = 0
exit
