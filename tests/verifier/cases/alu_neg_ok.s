# description: negation of a known scalar
# intent: accept
r0 = 5
r0 = -r0
w0 = -w0
r0 = 0
exit
