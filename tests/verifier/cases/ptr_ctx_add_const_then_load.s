# description: a ctx pointer moved by a constant then dereferenced
# prog_type: sched_cls
# intent: reject
r1 += 8
r0 = *(u32 *)(r1 + 0)
exit
