# description: a cgroup_skb program returns -1
# prog_type: cgroup_skb
# attach_type: cgroup_inet_egress
# intent: reject
r0 = -1
exit
