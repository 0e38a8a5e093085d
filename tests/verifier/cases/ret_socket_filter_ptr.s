# description: a socket filter returning a pointer (privileged)
# prog_type: socket_filter
# intent: accept
r0 = r10
exit
