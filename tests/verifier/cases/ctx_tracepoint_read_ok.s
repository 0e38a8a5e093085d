# description: tracepoint records may be read anywhere in range
# prog_type: tracepoint
# intent: accept
r0 = *(u64 *)(r1 + 16)
r0 = 0
exit
