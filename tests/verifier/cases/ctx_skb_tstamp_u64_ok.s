# description: skb->tstamp is a u64 field
# prog_type: sched_cls
# intent: accept
r0 = *(u64 *)(r1 + 152)
r0 = 0
exit
