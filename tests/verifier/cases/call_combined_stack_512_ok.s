# description: two frames of 256 bytes each (exactly 512) are allowed
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 256) = 0
call f1
exit
f1:
*(u64 *)(r10 - 256) = 0
r0 = 0
exit
