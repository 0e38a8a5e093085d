# description: raw tracepoint argument 1
# prog_type: raw_tracepoint
# intent: accept
r0 = *(u64 *)(r1 + 8)
r0 = 0
exit
