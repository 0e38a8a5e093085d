# description: an instruction after the last exit that nothing jumps to
# intent: reject
r0 = 0
exit
r0 = 1
exit
