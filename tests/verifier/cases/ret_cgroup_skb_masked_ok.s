# description: cgroup_skb returning a value masked to 0..1
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: accept
call bpf_get_prandom_u32
r0 &= 1
exit
