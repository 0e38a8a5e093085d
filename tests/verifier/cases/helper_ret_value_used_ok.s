# description: bpf_get_smp_processor_id result used as a scalar
# prog_type: socket_filter
# intent: accept
call bpf_get_smp_processor_id
r0 &= 1
exit
