# description: BPF_F_SLEEPABLE on an XDP program
# prog_type: xdp
# sleepable: true
# intent: reject
r0 = 0
exit
