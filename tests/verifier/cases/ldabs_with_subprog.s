# description: LD_ABS in a program with bpf-to-bpf calls but no BTF
# prog_type: socket_filter
# intent: reject
r6 = r1
call f1
exit
f1:
r0 = *(u8 *)skb[0]
exit
