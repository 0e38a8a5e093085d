# description: func_info for main and two static functions
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "static", "args": ["int"]}, {"linkage": "static", "args": ["int"]}]
# intent: accept
r1 = 1
call f1
call f2
exit
f1:
r0 = 1
exit
f2:
r0 = 2
exit
