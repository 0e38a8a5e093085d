# description: a checked packet pointer passed as a memory argument
# prog_type: sched_cls
# intent: reject
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r6 = r1
r4 = r2
r4 += 8
if r4 > r3 goto out
r1 = r6
r3 = r2
r2 = 0
r4 = 8
r5 = 0
call bpf_skb_store_bytes
out:
r0 = 0
exit
