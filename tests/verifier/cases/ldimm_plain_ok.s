# description: a 64-bit constant
# prog_type: socket_filter
# intent: accept
r0 = 0x123456789abcdef0 ll
r0 >>= 60
exit
