# description: a cgroup_skb return value bounded below only (>= 0 via unsigned shift)
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
r0 = *(u32 *)(r1 + 0)
exit
