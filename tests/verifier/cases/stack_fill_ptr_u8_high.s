# description: a 1-byte read of the high byte of a spilled stack pointer
# intent: reject
r2 = r10
*(u64 *)(r10 - 8) = r2
r0 = *(u8 *)(r10 - 1)
exit
