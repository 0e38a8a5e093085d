# description: r1 holds ctx at entry and may be returned as scalar? no: pointer return in socket filter
# intent: accept
r0 = 0
r2 = r1
exit
