# description: sock_ops op field
# prog_type: sock_ops
# intent: accept
r0 = *(u32 *)(r1 + 0)
r0 = 1
exit
