# description: loading into the frame pointer
# intent: reject
*(u64 *)(r10 - 8) = 0
r10 = *(u64 *)(r10 - 8)
r0 = 0
exit
