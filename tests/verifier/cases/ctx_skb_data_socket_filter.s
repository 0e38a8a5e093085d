# description: socket filters cannot read skb->data
# prog_type: socket_filter
# intent: reject
r0 = *(u32 *)(r1 + 76)
exit
