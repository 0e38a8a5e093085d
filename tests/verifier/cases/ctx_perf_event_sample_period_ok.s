# description: perf_event ctx sample_period
# prog_type: perf_event
# intent: accept
r0 = *(u64 *)(r1 + 168)
r0 = 0
exit
