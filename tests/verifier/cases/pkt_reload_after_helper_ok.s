# description: reload data after bpf_xdp_adjust_head
# prog_type: xdp
# intent: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r6 = r1
r1 = r6
r2 = 4
call bpf_xdp_adjust_head
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 1
if r4 > r3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
