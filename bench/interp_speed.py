"""Interpreter speed in instructions per second on loop-heavy programs.

Run: ``python bench/interp_speed.py [--repeat N]``. Prints, for each program, the
instructions executed per run, the best time per run, and the instruction rate. The programs
are the conformance suite's ``prime.data`` (a trial-division loop) and the bundled
``examples/asm/sum_loop.s`` with a larger bound; both exercise ALU, jumps and calls, the
interpreter's hot path.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bpfvm.asm import assemble
from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.conformance import parse_data_file
from bpfvm.isa.insn import Insn
from bpfvm.vm.interp import Interpreter

ROOT = Path(__file__).resolve().parents[1]


def programs() -> list[tuple[str, list[Insn]]]:
    out = []
    prime = ROOT.parent / "shared" / "conformance" / "tests" / "prime.data"
    if prime.exists():
        out.append(("conformance prime.data", assemble_ubpf(parse_data_file(prime).asm)))
    text = (ROOT / "examples" / "asm" / "sum_loop.s").read_text().replace("100", "100000")
    out.append(("sum_loop.s, n=100000", assemble(text)))
    mem_loop = """
        r1 = 20000
    loop:
        *(u64 *)(r10 - 8) = r1
        r2 = *(u64 *)(r10 - 8)
        r0 += r2
        r1 -= 1
        if r1 != 0 goto loop
        exit
    """
    out.append(("stack load/store loop, n=20000", assemble(mem_loop)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'program':34} {'insns/run':>10} {'best s/run':>11} {'M insns/s':>10}")
    for name, insns in programs():
        vm = Interpreter(insns)
        best = float("inf")
        executed = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            executed = vm.run().insns_executed
            best = min(best, time.perf_counter() - start)
        print(f"{name:34} {executed:>10} {best:>11.5f} {executed / best / 1e6:>10.2f}")


if __name__ == "__main__":
    main()
