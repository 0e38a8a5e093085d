# description: LD_ABS in a tc program
# prog_type: sched_cls
# intent: accept
r6 = r1
r0 = *(u32 *)skb[14]
r0 = 0
exit
