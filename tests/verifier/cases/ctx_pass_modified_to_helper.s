# description: a modified ctx pointer passed to a helper
# prog_type: sched_cls
# intent: reject
r1 += 4
r2 = 0
call bpf_skb_pull_data
r0 = 0
exit
