# description: LD_ABS in XDP
# prog_type: xdp
# intent: reject
r6 = r1
r0 = *(u8 *)skb[12]
r0 = 2
exit
