# description: narrow load of skb->protocol
# prog_type: sched_cls
# intent: accept
r0 = *(u16 *)(r1 + 16)
r0 = 0
exit
