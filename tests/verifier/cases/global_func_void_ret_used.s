# description: using r0 after calling a global function returning void
# prog_type: socket_filter
# funcs: [{"linkage": "global", "args": ["int"]}, {"linkage": "global", "args": ["int"], "ret": "void"}]
# intent: reject
r1 = 1
call f1
exit
f1:
exit
