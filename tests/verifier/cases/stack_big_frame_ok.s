# description: touching many slots of a large frame
# prog_type: socket_filter
# intent: accept
*(u64 *)(r10 - 8) = 0
*(u64 *)(r10 - 128) = 0
*(u64 *)(r10 - 256) = 0
*(u64 *)(r10 - 384) = 0
*(u64 *)(r10 - 504) = 0
r0 = *(u64 *)(r10 - 256)
exit
