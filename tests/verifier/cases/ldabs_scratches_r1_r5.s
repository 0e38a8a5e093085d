# description: LD_ABS scratches r1-r5
# prog_type: socket_filter
# intent: reject
r6 = r1
r2 = 5
r0 = *(u32 *)skb[0]
r0 = r2
exit
