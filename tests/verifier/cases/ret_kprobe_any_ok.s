# description: kprobe return values are free
# prog_type: kprobe
# intent: accept
r0 = -5
exit
