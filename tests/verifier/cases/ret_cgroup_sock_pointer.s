# description: cgroup/sock returning a pointer
# prog_type: cgroup_sock
# attach_type: cgroup_inet_sock_create
# intent: reject
r0 = r10
exit
