# description: bpf_sk_release(skb->sk): the socket was never acquired
# prog_type: sched_cls
# intent: reject
r1 = *(u64 *)(r1 + 168)
if r1 == 0 goto out
call bpf_sk_release
out:
r0 = 0
exit
