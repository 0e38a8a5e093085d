# description: calling a function address loaded by ld_imm64 as data
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
# intent: reject
ld_pseudo r1, 4, 3
r0 = *(u64 *)(r1 + 0)
exit
cb:
r0 = 0
exit
