"""The optimised scalar domain gives exactly the results of the frozen slow reference.

``scalar_reference`` holds the scalar code as it was before the speed work (per-step functions
on a mutable ``Reg``); the live modules now run ``reg_bounds_sync`` on plain ints with a memo, a
fast path for synced constants and an early exit from the deduction rounds. Inputs are both
well-formed synced scalars (``test_scalar_props.scalars``) and arbitrary, possibly
inconsistent, states, such as a refinement of an impossible branch produces.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.verifier import scalar_state
from bpfvm.verifier.scalar import (
    Scalar,
    branch_taken,
    coerce_reg_to_size,
    refine_cond,
    reg_bounds_sync,
    scalar_alu,
    scalar_end,
    scalar_neg,
)
from bpfvm.verifier.tnum import Tnum
from tests.unit.verifier import scalar_reference as ref
from tests.unit.verifier.test_scalar_props import EDGES, scalars, values

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def _u(draw: st.DrawFn, lo: int, hi: int) -> int:
    return draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, lo + 1, hi - 1, 0])))


@st.composite
def raw_scalars(draw: st.DrawFn) -> Scalar:
    """Any tnum and any bounds in their domains, in any order: also inconsistent states."""
    value = draw(values)
    mask = draw(st.one_of(values, st.sampled_from([0, 0, M64, M32, M64 - M32, 0xFF]))) & ~value
    s64lo, s64hi = -(1 << 63), (1 << 63) - 1
    s32lo, s32hi = -(1 << 31), (1 << 31) - 1
    if draw(st.booleans()):
        # bounds near the tnum's members, so that the sync has something to agree on
        lo, hi = value, value | mask
        umin, umax = sorted((draw(st.integers(0, lo)) if lo else 0, draw(st.integers(lo, M64))))
        del hi
    else:
        umin, umax = _u(draw, 0, M64), _u(draw, 0, M64)
    smin, smax = _u(draw, s64lo, s64hi), _u(draw, s64lo, s64hi)
    s32min, s32max = _u(draw, s32lo, s32hi), _u(draw, s32lo, s32hi)
    u32min, u32max = _u(draw, 0, M32), _u(draw, 0, M32)
    return Scalar(Tnum(value, mask), smin, smax, umin, umax, s32min, s32max, u32min, u32max)


def _any_scalar(data: st.DataObject) -> Scalar:
    if data.draw(st.booleans()):
        return data.draw(raw_scalars())
    s, _ = data.draw(scalars())
    return s


def _uncached() -> None:
    scalar_state._SYNC_CACHE.clear()


@settings(max_examples=3000, deadline=None)
@given(st.data())
def test_reg_bounds_sync_matches_reference(data: st.DataObject) -> None:
    s = _any_scalar(data)
    expected = ref.reg_bounds_sync(s)
    _uncached()
    assert reg_bounds_sync(s) == expected
    assert reg_bounds_sync(s) == expected  # from the memo


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([*EDGES, 0, 5, -1, -(1 << 63), 1 << 64, -(1 << 70)]), st.integers())
def test_const_matches_reference(v: int, w: int) -> None:
    for x in (v, w):
        expected = ref.Reg(Scalar.unknown())
        ref.mark_reg_known(expected, x)
        assert Scalar.const(x) == expected.freeze()
        assert reg_bounds_sync(Scalar.const(x)) == ref.reg_bounds_sync(Scalar.const(x))


ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR]
ALU_OPS += [AluOp.LSH, AluOp.RSH, AluOp.ARSH, AluOp.MOV, AluOp.NEG, AluOp.DIV, AluOp.MOD]


@settings(max_examples=3000, deadline=None)
@given(st.data(), st.sampled_from(ALU_OPS), st.booleans(), st.booleans())
def test_scalar_alu_matches_reference(
    data: st.DataObject, op: AluOp, alu32: bool, const_src: bool
) -> None:
    dst = _any_scalar(data)
    if const_src:
        src = Scalar.const(data.draw(st.one_of(st.integers(-70, 70), values)))
    else:
        src = _any_scalar(data)
    expected = ref.scalar_alu(op, dst, src, alu32)
    _uncached()
    assert scalar_alu(op, dst, src, alu32) == expected
    assert scalar_alu(op, dst, src, alu32) == expected
    assert scalar_neg(dst, alu32) == ref.scalar_neg(dst, alu32)


@settings(max_examples=500, deadline=None)
@given(st.data(), st.sampled_from([16, 32, 64]), st.booleans(), st.booleans())
def test_end_and_coerce_match_reference(
    data: st.DataObject, bits: int, alu64: bool, to_be: bool
) -> None:
    dst = _any_scalar(data)
    assert scalar_end(dst, bits, alu64=alu64, to_be=to_be) == ref.scalar_end(
        dst, bits, alu64=alu64, to_be=to_be
    )
    for size in (1, 2, 4):
        assert coerce_reg_to_size(dst, size) == ref.coerce_reg_to_size(dst, size)


JMP_OPS = [op for op in JmpOp if op in ref._FLIP]


@settings(max_examples=3000, deadline=None)
@given(st.data(), st.sampled_from(JMP_OPS), st.booleans(), st.booleans(), st.booleans())
def test_refine_cond_matches_reference(
    data: st.DataObject, op: JmpOp, is32: bool, negate: bool, same_reg: bool
) -> None:
    dst = _any_scalar(data)
    if data.draw(st.booleans()):
        src = Scalar.const(data.draw(st.one_of(st.integers(-70, 70), values)))
    else:
        src = _any_scalar(data)
    expected = ref.refine_cond(op, dst, src, is32, negate=negate, same_reg=same_reg)
    _uncached()
    got = refine_cond(op, dst, src, is32, negate=negate, same_reg=same_reg)
    assert got == expected
    assert branch_taken(op, dst, src, is32) == ref.branch_taken(op, dst, src, is32)
