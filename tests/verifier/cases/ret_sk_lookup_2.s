# description: sk_lookup returning 2
# prog_type: sk_lookup
# attach_type: sk_lookup
# intent: reject
r0 = 2
exit
