# description: skb->len is read-only
# prog_type: sched_cls
# intent: reject
*(u32 *)(r1 + 0) = 1
r0 = 0
exit
