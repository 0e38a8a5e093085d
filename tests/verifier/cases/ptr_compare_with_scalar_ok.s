# description: comparing a pointer with a scalar is allowed when privileged
# intent: accept
r2 = r10
if r2 == 0 goto out
out:
r0 = 0
exit
