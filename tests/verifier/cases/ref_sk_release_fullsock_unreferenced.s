# description: bpf_sk_release(bpf_sk_fullsock(skb->sk)): not a referenced socket
# prog_type: sched_cls
# intent: reject
r1 = *(u64 *)(r1 + 168)
if r1 == 0 goto out
call bpf_sk_fullsock
if r0 == 0 goto out
r1 = r0
call bpf_sk_release
out:
r0 = 0
exit
