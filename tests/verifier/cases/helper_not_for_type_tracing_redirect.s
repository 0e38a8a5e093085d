# description: bpf_redirect from a kprobe
# prog_type: kprobe
# intent: reject
r1 = 1
r2 = 0
call bpf_redirect
r0 = 0
exit
