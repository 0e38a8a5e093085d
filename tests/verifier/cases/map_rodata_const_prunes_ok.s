# description: frozen .rodata is a known constant: the bad branch is dead
# prog_type: socket_filter
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "frozen": true, "initial": "0500000000000000"}]
# intent: accept
ld_pseudo r1, 2, 0, 0
r2 = *(u32 *)(r1 + 0)
if r2 == 5 goto out
r0 = *(u64 *)(r10 - 8)
out:
r0 = 0
exit
