# description: bpf_sk_lookup_tcp result released after the NULL check
# prog_type: sched_cls
# intent: accept
*(u64 *)(r10 - 8) = 0
*(u64 *)(r10 - 16) = 0
*(u64 *)(r10 - 24) = 0
*(u64 *)(r10 - 32) = 0
*(u64 *)(r10 - 40) = 0
*(u64 *)(r10 - 48) = 0
r2 = r10
r2 += -48
r3 = 12
r4 = 0
r5 = 0
call bpf_sk_lookup_tcp
if r0 == 0 goto out
r1 = r0
call bpf_sk_release
out:
r0 = 0
exit
