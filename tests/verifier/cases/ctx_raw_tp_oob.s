# description: raw tracepoint args end at 96 bytes
# prog_type: raw_tracepoint
# intent: reject
r0 = *(u64 *)(r1 + 96)
r0 = 0
exit
