# description: BPF_F_SLEEPABLE on a plain kprobe program (the 6.18 kernel allows it at load)
# prog_type: kprobe
# sleepable: true
# intent: accept
r0 = 0
exit
