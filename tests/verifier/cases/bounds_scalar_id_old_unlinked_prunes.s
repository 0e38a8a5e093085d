# description: at the join the old state has r7 unlinked (precise, no id) and r8 with id A; the current one has r7 and r8 both with id A. An old scalar without an id asks for no link, so check_scalar_ids accepts r7 and then maps A to A for r8: the second path is pruned
# intent: accept
call bpf_get_prandom_u32
r9 = r0
call bpf_get_prandom_u32
r0 &= 0xff
r8 = r0
r7 = r0
if r9 != 0 goto join
r7 &= 0xff
join:
r1 = r10
r1 += -512
r1 += r7
*(u8 *)(r1 + 0) = 0
r1 = r10
r1 += -256
r1 += r8
*(u8 *)(r1 + 0) = 0
r0 = 0
exit
