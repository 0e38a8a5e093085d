# description: packet pointers die after bpf_xdp_adjust_head
# prog_type: xdp
# intent: reject
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r6 = r1
r4 = r2
r4 += 14
if r4 > r3 goto out
r7 = r2
r1 = r6
r2 = 0
call bpf_xdp_adjust_head
r0 = *(u8 *)(r7 + 0)
out:
r0 = 2
exit
