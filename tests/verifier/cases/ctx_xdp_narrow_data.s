# description: narrow load of the data pointer field
# prog_type: xdp
# intent: reject
r0 = *(u16 *)(r1 + 0)
r0 = 2
exit
