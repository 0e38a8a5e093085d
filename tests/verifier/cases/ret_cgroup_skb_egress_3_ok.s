# description: cgroup_skb egress may return 0..3
# prog_type: cgroup_skb
# attach_type: cgroup_inet_egress
# intent: accept
r0 = 3
exit
