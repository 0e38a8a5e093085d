# description: a cgroup_skb program returns its ctx pointer
# prog_type: cgroup_skb
# attach_type: cgroup_inet_ingress
# intent: reject
r0 = r1
exit
