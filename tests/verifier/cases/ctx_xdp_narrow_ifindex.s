# description: narrow load of ingress_ifindex
# prog_type: xdp
# intent: reject
r0 = *(u8 *)(r1 + 12)
r0 = 2
exit
