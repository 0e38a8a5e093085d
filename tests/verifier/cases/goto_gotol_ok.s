# description: a 32-bit offset jump (gotol)
# prog_type: socket_filter
# intent: accept
call bpf_get_prandom_u32
if r0 == 0 goto l1
gotol skip
l1:
r0 = 1
skip:
exit
