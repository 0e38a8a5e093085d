# description: a subprogram returns a pointer 16 bytes into its own stack
# prog_type: socket_filter
# intent: reject
call f1
r0 = 0
exit
f1:
*(u64 *)(r10 - 16) = 0
r0 = r10
r0 += -16
exit
