# description: ctx pointer plus an unknown scalar
# prog_type: sched_cls
# intent: reject
r6 = r1
call bpf_get_prandom_u32
r6 += r0
r0 = 0
exit
