# description: tc may write skb->mark
# prog_type: sched_cls
# intent: accept
*(u32 *)(r1 + 8) = 1
r0 = 0
exit
