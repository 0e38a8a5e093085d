# description: r7 = r6 - 3 keeps r7 linked to r6 (BPF_SUB, negative delta in the id), so r7 <= 100 proves r6 in [3, 103] and the bad load is dead
# intent: accept
call bpf_get_prandom_u32
r6 = r0
r7 = r6
r7 -= 3
if r7 > 100 goto out
if r6 >= 3 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
