# description: BPF_F_SLEEPABLE on a tc classifier
# prog_type: sched_cls
# sleepable: true
# intent: reject
r0 = 0
exit
