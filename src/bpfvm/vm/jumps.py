"""Exact comparison semantics of conditional jumps (SPEC.md section 6.3)."""

from __future__ import annotations

from collections.abc import Callable

from bpfvm.isa.opcodes import JmpOp
from bpfvm.vm.alu import M32, s32, s64

Cmp = Callable[[int, int], bool]

JMP64: dict[JmpOp, Cmp] = {
    JmpOp.JEQ: lambda a, b: a == b,
    JmpOp.JNE: lambda a, b: a != b,
    JmpOp.JGT: lambda a, b: a > b,
    JmpOp.JGE: lambda a, b: a >= b,
    JmpOp.JLT: lambda a, b: a < b,
    JmpOp.JLE: lambda a, b: a <= b,
    JmpOp.JSGT: lambda a, b: s64(a) > s64(b),
    JmpOp.JSGE: lambda a, b: s64(a) >= s64(b),
    JmpOp.JSLT: lambda a, b: s64(a) < s64(b),
    JmpOp.JSLE: lambda a, b: s64(a) <= s64(b),
    JmpOp.JSET: lambda a, b: (a & b) != 0,
}
"""Comparisons of unsigned 64-bit operands."""

JMP32: dict[JmpOp, Cmp] = {
    JmpOp.JEQ: lambda a, b: (a & M32) == (b & M32),
    JmpOp.JNE: lambda a, b: (a & M32) != (b & M32),
    JmpOp.JGT: lambda a, b: (a & M32) > (b & M32),
    JmpOp.JGE: lambda a, b: (a & M32) >= (b & M32),
    JmpOp.JLT: lambda a, b: (a & M32) < (b & M32),
    JmpOp.JLE: lambda a, b: (a & M32) <= (b & M32),
    JmpOp.JSGT: lambda a, b: s32(a) > s32(b),
    JmpOp.JSGE: lambda a, b: s32(a) >= s32(b),
    JmpOp.JSLT: lambda a, b: s32(a) < s32(b),
    JmpOp.JSLE: lambda a, b: s32(a) <= s32(b),
    JmpOp.JSET: lambda a, b: (a & b & M32) != 0,
}
"""Comparisons of the low 32 bits."""
