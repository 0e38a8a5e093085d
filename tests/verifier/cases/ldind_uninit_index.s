# description: LD_IND with an uninitialised index register
# prog_type: socket_filter
# intent: reject
r6 = r1
r0 = *(u16 *)skb[r8 + 12]
exit
