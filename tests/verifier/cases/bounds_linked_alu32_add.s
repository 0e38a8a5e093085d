# description: w7 = w6 + -1 on a zero-extended r6 keeps the link (BPF_ADD_CONST32, id=N-1), so w7 < 4 proves r6 in [0, 4] once the link is zero-extended; the bad load is dead
# intent: accept
call bpf_get_prandom_u32
w6 = w0
r7 = r6
w7 += -1
if w7 >= 4 goto out
if r6 <= 4 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
