# description: a socket filter may not write skb->mark
# prog_type: socket_filter
# intent: reject
*(u32 *)(r1 + 8) = 1
r0 = 0
exit
