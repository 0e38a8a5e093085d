# description: a 4-byte read of a spilled context pointer
# intent: reject
*(u64 *)(r10 - 8) = r1
r0 = *(u32 *)(r10 - 8)
exit
