# description: cgroup/getsockopt returning 2
# prog_type: cgroup_sockopt
# attach_type: cgroup_getsockopt
# intent: reject
r0 = 2
exit
