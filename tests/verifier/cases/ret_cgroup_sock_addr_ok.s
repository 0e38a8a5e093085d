# description: cgroup/connect4 returning 1
# prog_type: cgroup_sock_addr
# attach_type: cgroup_inet4_connect
# intent: accept
r0 = 1
exit
