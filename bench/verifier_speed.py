"""Speed of the verifier's scalar domain and of whole verifications.

    python bench/verifier_speed.py [--quick]

Prints microseconds per ``reg_bounds_sync`` / ``scalar_alu`` / ``refine_cond`` on a mix of
constant, unknown and ranged scalars (memo hits, as in real programs) and on fresh states
(memo misses), the time of the 1,000,000-instruction rejection of ``bench/verifier_limit.py``
and of verifying a few big objects of the sample corpus.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bpfvm.asm.parser import assemble
from bpfvm.elf.loader import load_object
from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import verify
from bpfvm.verifier.scalar import Scalar, refine_cond, reg_bounds_sync, scalar_alu
from bpfvm.verifier.tnum import Tnum

SAMPLES = Path("/work/shared/ebpf-samples/cilium-core")
OBJECTS = ["bpf_sock.o", "bpf_network.o"]


def _per_call(call: Callable[..., object], args: Sequence[tuple[Any, ...]], reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        for a in args:
            call(*a)
    return (time.perf_counter() - start) / (reps * len(args)) * 1e6


def _mix() -> list[Scalar]:
    ranged = Scalar(Tnum(0, 0xFFFF), 0, 1000, 0, 1000, 0, 1000, 0, 1000)
    return [Scalar.const(7), Scalar.unknown(), ranged, reg_bounds_sync(ranged)]


def _fresh(n: int) -> list[Scalar]:
    return [Scalar(Tnum(0, 0xFFFFF), 0, k, 0, k, 0, k, 0, k) for k in range(1000, 1000 + n)]


def micro() -> None:
    mix = _mix()
    c = Scalar.const(3)
    hits = _per_call(reg_bounds_sync, [(s,) for s in mix], 5000)
    print(f"reg_bounds_sync (hits):  {hits:6.2f} us")
    misses = _per_call(reg_bounds_sync, [(s,) for s in _fresh(20000)], 1)
    print(f"reg_bounds_sync (fresh): {misses:6.2f} us")
    alu = [(AluOp.ADD, s, c, False) for s in mix] + [(AluOp.AND, s, c, True) for s in mix]
    print(f"scalar_alu (hits):       {_per_call(scalar_alu, alu, 2000):6.2f} us")
    fresh_alu = [(AluOp.ADD, s, c, False) for s in _fresh(20000)]
    print(f"scalar_alu (fresh):      {_per_call(scalar_alu, fresh_alu, 1):6.2f} us")
    cond = [(JmpOp.JLT, s, Scalar.const(100), False) for s in mix]
    print(f"refine_cond (hits):      {_per_call(refine_cond, cond, 2000):6.2f} us")
    fresh_cond = [(JmpOp.JLT, s, Scalar.const(100), False) for s in _fresh(20000)]
    print(f"refine_cond (fresh):     {_per_call(refine_cond, fresh_cond, 1):6.2f} us")


def limit() -> None:
    asm = "r1 = 0\nr1 += 1\nif r1 < 2000000 goto -2\nr0 = 0\nexit"
    prog = Program("limit", tuple(assemble(asm, "limit")), ProgType.SOCKET_FILTER, license="GPL")
    start = time.perf_counter()
    result = verify(prog)
    elapsed = time.perf_counter() - start
    print(f"1M-insn rejection: {elapsed:.1f} s ({result.processed_insns} insns)")


def objects() -> None:
    for name in OBJECTS:
        path = SAMPLES / name
        if not path.exists():
            print(f"{name}: missing")
            continue
        obj = load_object(path.read_bytes(), name)
        start = time.perf_counter()
        insns = sum(verify(p).processed_insns for p in obj.programs)
        elapsed = time.perf_counter() - start
        print(f"{name}: {len(obj.programs)} programs, {insns} insns in {elapsed:.2f} s")


def main() -> None:
    micro()
    objects()
    if "--quick" not in sys.argv:
        limit()


if __name__ == "__main__":
    main()
