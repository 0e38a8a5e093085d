# description: three frames of 200 bytes each (600 > 512)
# prog_type: socket_filter
# intent: reject
*(u64 *)(r10 - 200) = 0
call f1
exit
f1:
*(u64 *)(r10 - 200) = 0
call f2
exit
f2:
*(u64 *)(r10 - 200) = 0
r0 = 0
exit
