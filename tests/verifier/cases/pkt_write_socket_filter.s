# description: socket filters cannot access packet data directly
# prog_type: socket_filter
# intent: reject
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r0 = 0
exit
