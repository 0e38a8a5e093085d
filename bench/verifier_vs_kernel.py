"""Verification time: bpfvm's verifier against the running kernel's, on the bundled examples.

Run: ``python bench/verifier_vs_kernel.py`` (as root for the kernel column). For every program
of ``examples/c/*.bpf.o`` it prints the processed instructions, bpfvm's wall time for
``verify()`` (best of 3) and the kernel's own "verification time" from the verifier log of a
``BPF_PROG_LOAD`` (log level 1 with BPF_LOG_STATS, best of 3), and the ratio. The kernel
column is empty where ``bpf()`` is refused.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bpfvm.elf.loader import load_object
from bpfvm.kernel.loader import load_program
from bpfvm.kernel.syscall import KernelUnavailable
from bpfvm.program.model import Program
from bpfvm.verifier import verify

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "c"
RUNS = 3
_TIME = re.compile(r"verification time (\d+) usec")


def bpfvm_us(prog: Program) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        verify(prog)
        best = min(best, (time.perf_counter_ns() - start) / 1000)
    return best


def kernel_us(prog: Program) -> float | None:
    best = None
    for _ in range(RUNS):
        try:
            verdict = load_program(prog, log_level=1 | 4)  # BPF_LOG_STATS: the time line
        except KernelUnavailable:
            return None
        found = _TIME.search(verdict.log)
        if found is None:
            return None
        us = float(found.group(1))
        best = us if best is None else min(best, us)
    return best


def main() -> None:
    print(f"{'program':<34}{'processed':>10}{'bpfvm us':>12}{'kernel us':>11}{'ratio':>9}")
    ratios = []
    for path in sorted(EXAMPLES.glob("*.bpf.o")):
        obj = load_object(path.read_bytes(), str(path))
        for prog in obj.programs:
            ours = bpfvm_us(prog)
            processed = verify(prog).processed_insns
            theirs = kernel_us(prog)
            ratio = f"{ours / theirs:8.0f}x" if theirs else "       -"
            if theirs:
                ratios.append(ours / theirs)
            shown = f"{theirs:11.0f}" if theirs is not None else "          -"
            print(f"{path.stem + ':' + prog.name:<34}{processed:>10}{ours:12.0f}{shown}{ratio}")
    if ratios:
        ratios.sort()
        print(f"\nmedian bpfvm/kernel verification time: {ratios[len(ratios) // 2]:.0f}x")


if __name__ == "__main__":
    main()
