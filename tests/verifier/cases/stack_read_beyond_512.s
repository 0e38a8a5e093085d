# description: reading below the 512-byte stack
# intent: reject
r0 = *(u32 *)(r10 - 516)
exit
