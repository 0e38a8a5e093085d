# description: LD_ABS needs the ctx in r6
# prog_type: socket_filter
# intent: reject
r6 = 0
r0 = *(u8 *)skb[12]
exit
