# description: subtracting from a map pointer
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: reject
ld_pseudo r1, 1, 0
r1 -= 8
r0 = 0
exit
