# description: bpf_get_current_comm fills an uninitialised buffer
# prog_type: kprobe
# intent: accept
r1 = r10
r1 += -16
r2 = 16
call bpf_get_current_comm
r0 = 0
exit
