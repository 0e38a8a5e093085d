# description: storing an uninitialised callee-saved register
# intent: reject
*(u64 *)(r10 - 8) = r6
r0 = 0
exit
