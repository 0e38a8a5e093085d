"""Exact eBPF arithmetic on Python ints (SPEC.md section 6.2).

Values are unsigned: 64-bit registers are ints in ``[0, 2**64)``. Each function takes the
destination and source operands (for BPF_K the immediate already extended the way the
instruction class requires) and returns the new destination value, zero-extended for the
32-bit forms. Division and modulo follow the kernel after its fixups: ``x / 0 = 0``,
``x % 0 = x``, signed ``INT_MIN / -1 = INT_MIN``, ``INT_MIN % -1 = 0``; signed division
truncates toward zero and the remainder takes the sign of the dividend.
"""

from __future__ import annotations

from collections.abc import Callable

from bpfvm.isa.opcodes import AluOp

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

BinOp = Callable[[int, int], int]


def s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & (1 << 31) else v


def sext(v: int, bits: int) -> int:
    """Sign-extend the low ``bits`` of ``v`` to a signed Python int."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _sdiv(a: int, b: int) -> int:
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _smod(a: int, b: int) -> int:
    if b == 0:
        return a
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def bswap(v: int, bits: int) -> int:
    return int.from_bytes((v & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")


ALU64: dict[tuple[AluOp, bool], BinOp] = {
    (AluOp.ADD, False): lambda d, s: (d + s) & M64,
    (AluOp.SUB, False): lambda d, s: (d - s) & M64,
    (AluOp.MUL, False): lambda d, s: (d * s) & M64,
    (AluOp.DIV, False): lambda d, s: d // s if s else 0,
    (AluOp.MOD, False): lambda d, s: d % s if s else d,
    (AluOp.DIV, True): lambda d, s: _sdiv(s64(d), s64(s)) & M64,
    (AluOp.MOD, True): lambda d, s: _smod(s64(d), s64(s)) & M64,
    (AluOp.OR, False): lambda d, s: d | s,
    (AluOp.AND, False): lambda d, s: d & s,
    (AluOp.XOR, False): lambda d, s: d ^ s,
    (AluOp.LSH, False): lambda d, s: (d << (s & 63)) & M64,
    (AluOp.RSH, False): lambda d, s: d >> (s & 63),
    (AluOp.ARSH, False): lambda d, s: (s64(d) >> (s & 63)) & M64,
    (AluOp.MOV, False): lambda d, s: s,
}
"""(op, signed) -> 64-bit operation on unsigned 64-bit operands."""

ALU32: dict[tuple[AluOp, bool], BinOp] = {
    (AluOp.ADD, False): lambda d, s: (d + s) & M32,
    (AluOp.SUB, False): lambda d, s: (d - s) & M32,
    (AluOp.MUL, False): lambda d, s: (d * s) & M32,
    (AluOp.DIV, False): lambda d, s: (d & M32) // (s & M32) if s & M32 else 0,
    (AluOp.MOD, False): lambda d, s: (d & M32) % (s & M32) if s & M32 else d & M32,
    (AluOp.DIV, True): lambda d, s: _sdiv(s32(d), s32(s)) & M32,
    (AluOp.MOD, True): lambda d, s: _smod(s32(d), s32(s)) & M32,
    (AluOp.OR, False): lambda d, s: (d | s) & M32,
    (AluOp.AND, False): lambda d, s: d & s & M32,
    (AluOp.XOR, False): lambda d, s: (d ^ s) & M32,
    (AluOp.LSH, False): lambda d, s: (d << (s & 31)) & M32,
    (AluOp.RSH, False): lambda d, s: (d & M32) >> (s & 31),
    (AluOp.ARSH, False): lambda d, s: (s32(d) >> (s & 31)) & M32,
    (AluOp.MOV, False): lambda d, s: s & M32,
}
"""(op, signed) -> 32-bit operation; only the low 32 bits of the operands matter."""


def movsx(src: int, bits: int, wide: bool) -> int:
    """``MOVSX``: sign-extend the low ``bits`` of src to 64 (or 32, zero-extended) bits."""
    return sext(src, bits) & (M64 if wide else M32)


def end(value: int, bits: int, swap: bool) -> int:
    """``END``/``BSWAP`` on a little-endian host: swap (to_be, bswap) or truncate (to_le)."""
    return bswap(value, bits) if swap else value & ((1 << bits) - 1)
