# description: division by a zero immediate
# intent: reject
r0 = 1
r0 /= 0
exit
