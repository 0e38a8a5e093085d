# description: a helper call with a negative id
# intent: reject
r0 = 0
call -5
exit
