# description: a negation changes the value, so r7 is no longer linked to r6; le64 (a no-op here) keeps r8 linked, so the bound on r8 reaches r6 while the one on r7 does not
# intent: reject
call bpf_get_prandom_u32
r6 = r0
r7 = r6
r8 = r6
r7 = -r7
r8 = le64 r8
if r8 > 8 goto out
if r7 > 4 goto out
if r6 <= 4 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
