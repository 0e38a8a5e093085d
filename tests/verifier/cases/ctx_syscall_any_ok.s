# description: syscall programs read their ctx as memory
# prog_type: syscall
# sleepable: true
# intent: accept
r0 = *(u64 *)(r1 + 0)
r0 = 0
exit
