# description: LD_ABS with r6 = ctx
# prog_type: socket_filter
# intent: accept
r6 = r1
r0 = *(u8 *)skb[12]
exit
