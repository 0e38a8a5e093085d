# description: a jump into the second half of ld_imm64
# prog_type: socket_filter
# intent: reject
r0 = 0
goto +1
r1 = 0x100000000 ll
exit
