# description: tracepoint ctx loads must be aligned
# prog_type: tracepoint
# intent: reject
r0 = *(u32 *)(r1 + 3)
r0 = 0
exit
