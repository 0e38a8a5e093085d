# description: an odd-aligned 2-byte stack read
# intent: reject
*(u64 *)(r10 - 8) = 0
r0 = *(u16 *)(r10 - 3)
exit
