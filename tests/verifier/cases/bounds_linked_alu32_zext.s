# description: r7 = w6 + 1 is linked to r6 by a 32-bit add; r6 == 0xffffffff makes r7 wrap to 0 (the sync zero-extends), so r7 != 0 is dead
# intent: accept
call bpf_get_prandom_u32
w6 = w0
r7 = r6
w7 += 1
r8 = 0xffffffff ll
if r6 < r8 goto out
if r7 == 0 goto out
r0 = *(u64 *)(r10 + 8)
out:
r0 = 0
exit
