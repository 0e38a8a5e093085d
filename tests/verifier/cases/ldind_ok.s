# description: LD_IND with a known index register
# prog_type: socket_filter
# intent: accept
r6 = r1
r7 = 2
r0 = *(u16 *)skb[r7 + 12]
exit
