# description: cgroup_skb returning an unknown value
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
call bpf_get_prandom_u32
exit
