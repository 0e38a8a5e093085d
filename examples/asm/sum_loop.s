# Sum 1..100 with a bounded loop and a bpf-to-bpf call: the README's first example.
        r1 = 100
        call sum
        exit

# u64 sum(u64 n): 1 + 2 + ... + n
sum:
        r0 = 0
loop:
        r0 += r1
        r1 -= 1
        if r1 != 0 goto loop
        exit
