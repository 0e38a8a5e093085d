# description: a 9-deep call chain the main pass never enters (the stack-depth walk sees it)
# prog_type: socket_filter
# intent: reject
r1 = 0
if r1 != 0 goto deep
r0 = 0
exit
deep:
call f1
exit
f1:
call f2
exit
f2:
call f3
exit
f3:
call f4
exit
f4:
call f5
exit
f5:
call f6
exit
f6:
call f7
exit
f7:
call f8
exit
f8:
r0 = 0
exit
