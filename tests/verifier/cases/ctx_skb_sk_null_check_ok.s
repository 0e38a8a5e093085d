# description: skb->sk is a sock_common or NULL
# prog_type: sched_cls
# intent: accept
r1 = *(u64 *)(r1 + 168)
if r1 == 0 goto out
r0 = *(u32 *)(r1 + 4)
out:
r0 = 0
exit
