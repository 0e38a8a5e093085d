# description: a direct packet write from an lwt_in program
# prog_type: lwt_in
# intent: reject
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 1
if r4 > r3 goto out
*(u8 *)(r2 + 0) = 0
out:
r0 = 0
exit
