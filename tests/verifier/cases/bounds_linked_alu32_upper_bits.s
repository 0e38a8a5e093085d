# description: a 32-bit add on a register whose upper half may be set breaks the link (dst umax > U32_MAX), so the later bound on r7 says nothing about r6 and the bad load is reached
# intent: reject
call bpf_get_prandom_u32
r6 = r0
r7 = r6
w7 += 1
if w7 >= 4 goto out
if r6 <= 4 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
