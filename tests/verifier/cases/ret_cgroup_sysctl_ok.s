# description: cgroup/sysctl returning 1
# prog_type: cgroup_sysctl
# attach_type: cgroup_sysctl
# intent: accept
r0 = 1
exit
