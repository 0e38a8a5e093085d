# description: LD_IND in an XDP program
# prog_type: xdp
# intent: reject
r6 = r1
r7 = 2
r0 = *(u16 *)skb[r7 + 0]
r0 = 0
exit
