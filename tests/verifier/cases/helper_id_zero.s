# description: helper id 0 (BPF_FUNC_unspec)
# intent: reject
call 0
r0 = 0
exit
