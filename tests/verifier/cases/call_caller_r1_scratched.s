# description: r1-r5 are scratched by a bpf-to-bpf call
# prog_type: socket_filter
# intent: reject
r1 = 1
call f1
r0 = r1
exit
f1:
r0 = 0
exit
