# description: r2 is not an argument register at entry
# intent: reject
r0 = r2
exit
