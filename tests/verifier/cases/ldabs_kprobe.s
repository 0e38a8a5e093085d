# description: LD_ABS in a kprobe program
# prog_type: kprobe
# intent: reject
r6 = r1
r0 = *(u8 *)skb[0]
r0 = 0
exit
