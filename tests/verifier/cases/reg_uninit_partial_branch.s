# description: r3 set on only one path, then read
# intent: reject
call bpf_get_prandom_u32
if r0 == 0 goto skip
r3 = 1
skip:
r0 = r3
exit
