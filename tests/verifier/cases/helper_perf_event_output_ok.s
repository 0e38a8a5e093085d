# description: bpf_perf_event_output with BPF_F_CURRENT_CPU
# prog_type: kprobe
# maps: [{"type": "perf_event_array", "key_size": 4, "value_size": 4, "max_entries": 2}]
# intent: accept
*(u64 *)(r10 - 8) = 0
r4 = r10
r4 += -8
ld_pseudo r2, 1, 0
r3 = 0xffffffff ll
r5 = 8
call bpf_perf_event_output
r0 = 0
exit
