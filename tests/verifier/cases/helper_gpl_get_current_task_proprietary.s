# description: bpf_get_current_task (GPL-only) from a Proprietary tracepoint program
# prog_type: tracepoint
# license: Proprietary
# intent: reject
call bpf_get_current_task
r0 = 0
exit
