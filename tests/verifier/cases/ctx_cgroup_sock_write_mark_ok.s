# description: cgroup/sock may set sk->mark
# prog_type: cgroup_sock
# intent: accept
*(u32 *)(r1 + 16) = 1
r0 = 1
exit
