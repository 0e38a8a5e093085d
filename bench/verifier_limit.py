"""How long the verifier takes to reject a program at the 1,000,000-instruction limit.

    python bench/verifier_limit.py

The program is the kernel's worst simple case, a loop whose counter stays precise:
``r1 += 1; if r1 < 2000000 goto -2``. The kernel rejects it with
``BPF program is too large. Processed 1000001 insn``; bpfvm must do the same in under a minute.
"""

from __future__ import annotations

import time

from bpfvm.asm.parser import assemble
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import verify


def main() -> None:
    asm = "r1 = 0\nr1 += 1\nif r1 < 2000000 goto -2\nr0 = 0\nexit"
    prog = Program("limit", tuple(assemble(asm, "limit")), ProgType.SOCKET_FILTER, license="GPL")
    start = time.perf_counter()
    result = verify(prog)
    elapsed = time.perf_counter() - start
    print(f"{result.error} ({result.processed_insns} insns) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
