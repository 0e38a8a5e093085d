# description: reading above the frame pointer
# intent: reject
r0 = *(u64 *)(r10 + 8)
exit
