# description: skb->sk dereferenced without a NULL check
# prog_type: sched_cls
# intent: reject
r1 = *(u64 *)(r1 + 168)
r0 = *(u32 *)(r1 + 4)
r0 = 0
exit
