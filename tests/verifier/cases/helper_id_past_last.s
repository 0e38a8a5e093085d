# description: a helper id one past the kernel's last
# intent: reject
call 212
r0 = 0
exit
