# description: LD_ABS in a cgroup_skb program
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
r6 = r1
r0 = *(u8 *)skb[0]
r0 = 1
exit
