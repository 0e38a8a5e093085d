# description: cgroup_skb ingress returning 2
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
r0 = 2
exit
