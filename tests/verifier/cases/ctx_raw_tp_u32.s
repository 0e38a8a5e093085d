# description: raw tracepoint args are read as u64
# prog_type: raw_tracepoint
# intent: accept
r0 = *(u32 *)(r1 + 8)
r0 = 0
exit
