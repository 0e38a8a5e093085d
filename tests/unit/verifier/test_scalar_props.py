"""Soundness of the scalar domain: every concrete result stays inside the abstract result.

Abstract operands are built around a few concrete seed values (the tnum joining them, each
range a random superset of their span in its domain, then ``reg_bounds_sync``), so the seeds
are members by construction; every operation is then checked on all seed pairs against the
interpreter's arithmetic (``bpfvm.vm.alu`` and ``bpfvm.vm.jumps``).
"""

from __future__ import annotations

from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.verifier.scalar import (
    Scalar,
    branch_taken,
    coerce_reg_to_size,
    coerce_reg_to_size_sx,
    coerce_subreg_to_size_sx,
    fork_scalar,
    linked_scalar_delta,
    refine_cond,
    reg_bounds_sync,
    scalar_alu,
    scalar_end,
    scalar_movsx,
    scalar_neg,
    zext_32_to_64,
)
from bpfvm.verifier.tnum import Tnum
from bpfvm.vm.alu import ALU32, ALU64, M32, M64, end, movsx, s32, s64, sext
from bpfvm.vm.jumps import JMP32, JMP64

EDGES = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000]
EDGES += [M32, 1 << 32, (1 << 63) - 1, 1 << 63, M64, M64 - 1, M64 - 0x7F, M64 - M32]
values = st.one_of(
    st.integers(0, M64),
    st.sampled_from(EDGES),
    st.integers(-300, 300).map(lambda v: v & M64),
    st.integers(0, M32),
)


@st.composite
def near(draw: st.DrawFn, base: int) -> int:
    how = draw(st.sampled_from(["delta", "bits", "any"]))
    if how == "delta":
        return (base + draw(st.integers(-70, 70))) & M64
    if how == "bits":
        return base ^ draw(st.integers(0, 0xFFFF))
    return draw(values)


@st.composite
def widen(draw: st.DrawFn, lo: int, hi: int, floor: int, ceil: int) -> tuple[int, int]:
    """A random range containing [lo, hi] within [floor, ceil]."""
    if draw(st.booleans()):
        return lo, hi
    return draw(st.integers(floor, lo)), draw(st.integers(hi, ceil))


@st.composite
def scalars(draw: st.DrawFn) -> tuple[Scalar, list[int]]:
    """A synced abstract scalar and 1-4 of its members."""
    base = draw(values)
    seeds = [base, *draw(st.lists(near(base), max_size=3))]
    t = reduce(Tnum.union, (Tnum.const(v) for v in seeds))
    extra = draw(st.sampled_from([0, 0, 0xF, 0xFF00, 1 << 63, M32 << 32])) & ~t.mask
    t = Tnum(t.value & ~extra, t.mask | extra)
    umin, umax = draw(widen(min(seeds), max(seeds), 0, M64))
    sv = [s64(v) for v in seeds]
    smin, smax = draw(widen(min(sv), max(sv), -(1 << 63), (1 << 63) - 1))
    lv = [v & M32 for v in seeds]
    u32min, u32max = draw(widen(min(lv), max(lv), 0, M32))
    s32v = [s32(v) for v in seeds]
    s32min, s32max = draw(widen(min(s32v), max(s32v), -(1 << 31), (1 << 31) - 1))
    s = Scalar(t, smin, smax, umin, umax, s32min, s32max, u32min, u32max)
    return reg_bounds_sync(s), seeds


def _concrete(op: AluOp, signed: bool, alu32: bool, x: int, y: int) -> int:
    table = ALU32 if alu32 else ALU64
    return table[(op, signed)](x, y)


BINARY = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.OR, AluOp.AND]
BINARY += [AluOp.XOR, AluOp.LSH, AluOp.RSH, AluOp.ARSH, AluOp.MOV]
JUMPS = [op for op in JMP64 if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT)]


@settings(max_examples=300)
@given(st.sampled_from(BINARY), st.booleans(), st.booleans(), scalars(), scalars())
def test_alu_is_sound(
    op: AluOp,
    alu32: bool,
    signed: bool,
    dst: tuple[Scalar, list[int]],
    src: tuple[Scalar, list[int]],
) -> None:
    signed = signed and op in (AluOp.DIV, AluOp.MOD)
    result = scalar_alu(op, dst[0], src[0], alu32)
    for x in dst[1]:
        for y in src[1]:
            assert result.contains(_concrete(op, signed, alu32, x, y)), (hex(x), hex(y))


@given(st.sampled_from([AluOp.LSH, AluOp.RSH, AluOp.ARSH]), st.booleans(), scalars())
def test_constant_shifts_are_sound(op: AluOp, alu32: bool, dst: tuple[Scalar, list[int]]) -> None:
    for n in range(32 if alu32 else 64):
        result = scalar_alu(op, dst[0], Scalar.const(n), alu32)
        for x in dst[1]:
            assert result.contains(_concrete(op, False, alu32, x, n))


@given(st.booleans(), scalars())
def test_unary_ops_are_sound(alu32: bool, dst: tuple[Scalar, list[int]]) -> None:
    mask = M32 if alu32 else M64
    neg = scalar_neg(dst[0], alu32)
    for bits in (16, 32, 64):
        swapped = scalar_end(dst[0], bits, alu64=True, to_be=False)
        be = scalar_end(dst[0], bits, alu64=False, to_be=True)
        le = scalar_end(dst[0], bits, alu64=False, to_be=False)
        for x in dst[1]:
            assert swapped.contains(end(x, bits, True)) and be.contains(end(x, bits, True))
            assert le.contains(x & ((1 << bits) - 1))
    for x in dst[1]:
        assert neg.contains(-x & mask)


@given(scalars())
def test_width_changes_are_sound(src: tuple[Scalar, list[int]]) -> None:
    s, xs = src
    for size in (1, 2, 4):
        bits = size * 8
        for x in xs:
            assert coerce_reg_to_size(s, size).contains(x & ((1 << bits) - 1))
            assert coerce_reg_to_size_sx(s, size).contains(sext(x, bits) & M64)
            assert scalar_movsx(s, size, False).contains(movsx(x, bits, True))
            if size < 4:
                assert scalar_movsx(s, size, True).contains(movsx(x, bits, False))
                sub = coerce_subreg_to_size_sx(s, size)
                assert sub.var_off.subreg().contains_value(sext(x, bits) & M32)
                assert sub.s32_min <= sext(x, bits) <= sub.s32_max
    for x in xs:
        assert zext_32_to_64(s).contains(x & M32)
        assert reg_bounds_sync(zext_32_to_64(s)).contains(x & M32)


@settings(max_examples=300)
@given(st.sampled_from(JUMPS), st.booleans(), scalars(), scalars())
def test_branches_are_sound(
    op: JmpOp, is32: bool, dst: tuple[Scalar, list[int]], src: tuple[Scalar, list[int]]
) -> None:
    cmp = (JMP32 if is32 else JMP64)[op]
    pred = branch_taken(op, dst[0], src[0], is32)
    taken = refine_cond(op, dst[0], src[0], is32)
    fall = refine_cond(op, dst[0], src[0], is32, negate=True)
    for x in dst[1]:
        for y in src[1]:
            holds = cmp(x, y)
            assert pred != int(not holds), (pred, hex(x), hex(y))
            d, s = taken if holds else fall
            assert d.contains(x) and s.contains(y)


@given(st.sampled_from(JUMPS), st.booleans(), scalars())
def test_same_register_branches_are_sound(
    op: JmpOp, is32: bool, reg: tuple[Scalar, list[int]]
) -> None:
    cmp = (JMP32 if is32 else JMP64)[op]
    pred = branch_taken(op, reg[0], reg[0], is32)
    for x in reg[1]:
        holds = cmp(x, x)
        assert pred != int(not holds)
        if pred == -1:
            d, s = refine_cond(op, reg[0], reg[0], is32, negate=not holds, same_reg=True)
            assert d == s and d.contains(x)


@given(st.sampled_from([AluOp.AND, AluOp.OR]), scalars(), values)
def test_fork_covers_every_member(op: AluOp, dst: tuple[Scalar, list[int]], k: int) -> None:
    forked = fork_scalar(op, dst[0], Scalar.const(k))
    if forked is None:
        return
    for x in dst[1]:
        assert forked[0].contains(x) or forked[1].contains(x)


@given(scalars())
def test_sync_is_sound_and_consistent(src: tuple[Scalar, list[int]]) -> None:
    s, xs = src
    assert s.bounds_violation() is None
    again = reg_bounds_sync(s)
    for x in xs:
        assert again.contains(x)


@given(st.booleans(), scalars(), st.integers(-(2**31), 2**31 - 1))
def test_linked_delta_is_sound(alu32: bool, known: tuple[Scalar, list[int]], delta: int) -> None:
    moved = linked_scalar_delta(known[0], delta, alu32)
    for x in known[1]:
        assert moved.contains((x + delta) & (M32 if alu32 else M64))


CONST_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR]


@given(
    st.sampled_from([*CONST_OPS, AluOp.LSH, AluOp.RSH, AluOp.ARSH]), st.booleans(), values, values
)
def test_constant_operands_give_constants(op: AluOp, alu32: bool, x: int, y: int) -> None:
    if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH):
        y %= 32 if alu32 else 64
    result = scalar_alu(op, Scalar.const(x), Scalar.const(y), alu32)
    assert result == Scalar.const(_concrete(op, False, alu32, x, y))
