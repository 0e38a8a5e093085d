# description: a socket filter may write skb->cb[]
# prog_type: socket_filter
# intent: accept
*(u32 *)(r1 + 48) = 1
r0 = *(u32 *)(r1 + 52)
exit
