# description: cgroup_skb returning 1
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: accept
r0 = 1
exit
