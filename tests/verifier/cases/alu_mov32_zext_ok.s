# description: a 32-bit move zero-extends, bounds stay known
# intent: accept
r0 = -1
w0 = w0
r0 >>= 32
exit
