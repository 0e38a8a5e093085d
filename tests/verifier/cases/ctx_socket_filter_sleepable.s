# description: BPF_F_SLEEPABLE on a socket filter
# prog_type: socket_filter
# sleepable: true
# intent: reject
r0 = 0
exit
