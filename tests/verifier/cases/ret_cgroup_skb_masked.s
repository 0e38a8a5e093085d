# description: a cgroup_skb program returns an unknown value in [0, 3]
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
r0 = *(u32 *)(r1 + 0)
r0 &= 3
exit
