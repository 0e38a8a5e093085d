# description: a byte swap (be32) changes the value, so r7 is no longer linked to r6: the bound on r7 says nothing about r6 and the bad load is reached
# intent: reject
call bpf_get_prandom_u32
r6 = r0
r7 = r6
r7 = be32 r7
if r7 > 4 goto out
if r6 <= 4 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
