# description: XDP return codes are not range-checked
# prog_type: xdp
# intent: accept
r0 = 100
exit
