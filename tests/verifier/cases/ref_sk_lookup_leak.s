# description: bpf_sk_lookup_tcp result never released
# prog_type: sched_cls
# intent: reject
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
r0 = 0
exit
