"""Conditional jumps on scalars: predicting the outcome and refining both operands.

:func:`branch_taken` mirrors ``is_scalar_branch_taken`` (Linux 6.18): 1 when ``dst op src``
holds for every pair of members, 0 when it holds for none, -1 otherwise. :func:`refine_cond`
mirrors ``regs_refine_cond_op`` followed by ``reg_bounds_sync`` of both operands: the states of
``dst`` and ``src`` on the path where the condition is true (``negate=True``: false). The
kernel computes the fall-through state with the reversed opcode (``rev_opcode``); for ``JSET``
that is "no bit in common", which has no opcode of its own, hence the ``negate`` flag
(``negate_jmp`` covers the others).

The caller decides when to refine: only when :func:`branch_taken` returned -1, and only when
both registers are scalars (``reg_set_min_max``). A refinement may produce inconsistent bounds
on a branch that cannot be taken; the kernel then reports ``REG INVARIANTS VIOLATION`` and
forgets the ranges (see ``Scalar.bounds_violation`` and ``Scalar.with_unbounded``).
"""

from __future__ import annotations

from bpfvm.isa.opcodes import JmpOp
from bpfvm.verifier.scalar_state import (
    Reg,
    Scalar,
    mark_reg_unbounded,
    s32,
    s64,
    sync_reg,
    u32,
    u64,
)
from bpfvm.verifier.tnum import Tnum

_FLIP = {
    JmpOp.JEQ: JmpOp.JEQ,
    JmpOp.JNE: JmpOp.JNE,
    JmpOp.JSET: JmpOp.JSET,
    JmpOp.JGE: JmpOp.JLE,
    JmpOp.JGT: JmpOp.JLT,
    JmpOp.JLE: JmpOp.JGE,
    JmpOp.JLT: JmpOp.JGT,
    JmpOp.JSGE: JmpOp.JSLE,
    JmpOp.JSGT: JmpOp.JSLT,
    JmpOp.JSLE: JmpOp.JSGE,
    JmpOp.JSLT: JmpOp.JSGT,
}

_NEGATE = {
    JmpOp.JEQ: JmpOp.JNE,
    JmpOp.JNE: JmpOp.JEQ,
    JmpOp.JGE: JmpOp.JLT,
    JmpOp.JGT: JmpOp.JLE,
    JmpOp.JLE: JmpOp.JGT,
    JmpOp.JLT: JmpOp.JGE,
    JmpOp.JSGE: JmpOp.JSLT,
    JmpOp.JSGT: JmpOp.JSLE,
    JmpOp.JSLE: JmpOp.JSGT,
    JmpOp.JSLT: JmpOp.JSGE,
}


def flip_jmp(op: JmpOp) -> JmpOp:
    """``flip_opcode``: the operator that gives the same result with the operands swapped."""
    return _FLIP[op]


def negate_jmp(op: JmpOp) -> JmpOp:
    """``rev_opcode``: the operator of the fall-through condition. ``JSET`` has none; use
    ``refine_cond(..., negate=True)`` for it."""
    if op == JmpOp.JSET:
        raise ValueError("the negation of JSET has no opcode: use refine_cond(negate=True)")
    return _NEGATE[op]


# --- prediction ---------------------------------------------------------------------------------


def _bounds(r: Scalar, is32: bool) -> tuple[Tnum, int, int, int, int]:
    if is32:
        return r.var_off.subreg(), r.u32_min, r.u32_max, r.s32_min, r.s32_max
    return r.var_off, r.umin, r.umax, r.smin, r.smax


def _disjoint32(a: Scalar, b: Scalar) -> bool:
    """The 32-bit ranges exclude equality (used by 64-bit JEQ/JNE)."""
    return (
        a.u32_min > b.u32_max
        or a.u32_max < b.u32_min
        or a.s32_min > b.s32_max
        or a.s32_max < b.s32_min
    )


def _eq_taken(dst: Scalar, src: Scalar, is32: bool) -> int:
    """JEQ: 1 for two equal constants, 0 when no member can be equal, else -1."""
    t1, umin1, umax1, smin1, smax1 = _bounds(dst, is32)
    t2, umin2, umax2, smin2, smax2 = _bounds(src, is32)
    if t1.is_const() and t2.is_const():
        return int(t1.value == t2.value)
    if not t1.overlap(t2):
        return 0
    if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
        return 0
    if not is32 and _disjoint32(dst, src):
        return 0
    return -1


def _jset_taken(dst: Scalar, src: Scalar, is32: bool) -> int:
    """JSET with a constant operand (either side): decided by the known bits of the other."""
    if not src.is_reg_const(is32):
        dst, src = src, dst
    if not src.is_reg_const(is32):
        return -1
    t1 = dst.var_off.subreg() if is32 else dst.var_off
    val = src.reg_const_value(is32)
    if t1.value & val:
        return 1
    if not (t1.value | t1.mask) & val:
        return 0
    return -1


def _order_taken(op: JmpOp, dst: Scalar, src: Scalar, is32: bool) -> int:
    _, umin1, umax1, smin1, smax1 = _bounds(dst, is32)
    _, umin2, umax2, smin2, smax2 = _bounds(src, is32)
    signed = op in (JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE)
    lo1, hi1, lo2, hi2 = (smin1, smax1, smin2, smax2) if signed else (umin1, umax1, umin2, umax2)
    if op in (JmpOp.JGT, JmpOp.JSGT):
        yes, no = lo1 > hi2, hi1 <= lo2
    elif op in (JmpOp.JLT, JmpOp.JSLT):
        yes, no = hi1 < lo2, lo1 >= hi2
    elif op in (JmpOp.JGE, JmpOp.JSGE):
        yes, no = lo1 >= hi2, hi1 < lo2
    else:
        yes, no = hi1 <= lo2, lo1 > hi2
    return 1 if yes else 0 if no else -1


def branch_taken(op: JmpOp, dst: Scalar, src: Scalar, is32: bool) -> int:
    """``is_scalar_branch_taken``: 1 if ``dst op src`` always holds, 0 if never, -1 if unknown.
    A register compared with itself gets no special case in 6.18 (``if r1 > r1`` is decided
    only when the register is constant)."""
    if op == JmpOp.JEQ:
        return _eq_taken(dst, src, is32)
    if op == JmpOp.JNE:
        eq = _eq_taken(dst, src, is32)
        return eq if eq < 0 else 1 - eq
    if op == JmpOp.JSET:
        return _jset_taken(dst, src, is32)
    return _order_taken(op, dst, src, is32)


# --- refinement ---------------------------------------------------------------------------------


def _refine_eq(r1: Reg, r2: Reg, is32: bool) -> None:
    if is32:
        r1.u32_min = max(r1.u32_min, r2.u32_min)
        r1.u32_max = min(r1.u32_max, r2.u32_max)
        r1.s32_min = max(r1.s32_min, r2.s32_min)
        r1.s32_max = min(r1.s32_max, r2.s32_max)
        r2.u32_min, r2.u32_max, r2.s32_min, r2.s32_max = (
            r1.u32_min,
            r1.u32_max,
            r1.s32_min,
            r1.s32_max,
        )
        t = r1.var_off.subreg().intersect(r2.var_off.subreg())
        r1.var_off = r1.var_off.with_subreg(t)
        r2.var_off = r2.var_off.with_subreg(t)
        return
    r1.umin, r1.umax = max(r1.umin, r2.umin), min(r1.umax, r2.umax)
    r1.smin, r1.smax = max(r1.smin, r2.smin), min(r1.smax, r2.smax)
    r2.umin, r2.umax, r2.smin, r2.smax = r1.umin, r1.umax, r1.smin, r1.smax
    r1.var_off = r1.var_off.intersect(r2.var_off)
    r2.var_off = r1.var_off


def _const_operand(r1: Reg, r2: Reg, is32: bool) -> tuple[Reg, int] | None:
    """The non-constant register and the constant, when one side is constant (preferring
    ``r2`` as the constant, as the kernel's swap does)."""
    c2 = r2.var_off.subreg_is_const() if is32 else r2.var_off.is_const()
    if not c2:
        r1, r2 = r2, r1
        c2 = r2.var_off.subreg_is_const() if is32 else r2.var_off.is_const()
    if not c2:
        return None
    return r1, u32(r2.var_off.value) if is32 else r2.var_off.value


def _refine_ne(r1: Reg, r2: Reg, is32: bool) -> None:
    """JNE against a constant at the edge of the other register's range shrinks that edge."""
    found = _const_operand(r1, r2, is32)
    if found is None:
        return
    r, val = found
    if is32:
        r.u32_min = u32(r.u32_min + (r.u32_min == u32(val)))
        r.u32_max = u32(r.u32_max - (r.u32_max == u32(val)))
        r.s32_min = s32(r.s32_min + (r.s32_min == s32(val)))
        r.s32_max = s32(r.s32_max - (r.s32_max == s32(val)))
    else:
        r.umin = u64(r.umin + (r.umin == val))
        r.umax = u64(r.umax - (r.umax == val))
        r.smin = s64(r.smin + (r.smin == s64(val)))
        r.smax = s64(r.smax - (r.smax == s64(val)))


def _refine_jset(r1: Reg, r2: Reg, is32: bool, negate: bool) -> None:
    """JSET with a constant: a single-bit mask sets that bit; its negation clears every bit of
    the mask (after forgetting the ranges, which may contradict the narrower tnum)."""
    found = _const_operand(r1, r2, is32)
    if found is None:
        return
    r, val = found
    if negate:
        mark_reg_unbounded(r)
        bits = Tnum.const(~val)
        if is32:
            r.var_off = r.var_off.with_subreg(r.var_off.subreg().and_(bits))
        else:
            r.var_off = r.var_off.and_(bits)
        return
    if val == 0 or val & (val - 1):
        return
    if is32:
        r.var_off = r.var_off.with_subreg(r.var_off.subreg().or_(Tnum.const(val)))
    else:
        r.var_off = r.var_off.or_(Tnum.const(val))


def _refine_le(r1: Reg, r2: Reg, is32: bool, signed: bool, strict: bool) -> None:
    """``r1 <= r2`` (``strict``: ``<``): r1's maximum and r2's minimum move towards each
    other; the C arithmetic wraps, as in the kernel."""
    k = int(strict)
    if is32 and signed:
        r1.s32_max = min(r1.s32_max, s32(r2.s32_max - k))
        r2.s32_min = max(s32(r1.s32_min + k), r2.s32_min)
    elif is32:
        r1.u32_max = min(r1.u32_max, u32(r2.u32_max - k))
        r2.u32_min = max(u32(r1.u32_min + k), r2.u32_min)
    elif signed:
        r1.smax = min(r1.smax, s64(r2.smax - k))
        r2.smin = max(s64(r1.smin + k), r2.smin)
    else:
        r1.umax = min(r1.umax, u64(r2.umax - k))
        r2.umin = max(u64(r1.umin + k), r2.umin)


_LE = {
    JmpOp.JLE: (False, False),
    JmpOp.JLT: (False, True),
    JmpOp.JSLE: (True, False),
    JmpOp.JSLT: (True, True),
}


def regs_refine_cond_op(r1: Reg, r2: Reg, op: JmpOp, is32: bool, negate: bool = False) -> None:
    """``regs_refine_cond_op`` on scratch registers; ``negate`` selects ``rev_opcode(op)``."""
    if negate and op != JmpOp.JSET:
        op, negate = _NEGATE[op], False
    if op in (JmpOp.JGE, JmpOp.JGT, JmpOp.JSGE, JmpOp.JSGT):
        op = _FLIP[op]
        r1, r2 = r2, r1
    if op == JmpOp.JEQ:
        _refine_eq(r1, r2, is32)
    elif op == JmpOp.JNE:
        _refine_ne(r1, r2, is32)
    elif op == JmpOp.JSET:
        _refine_jset(r1, r2, is32, negate)
    elif op in _LE:
        signed, strict = _LE[op]
        _refine_le(r1, r2, is32, signed, strict)


def refine_cond(
    op: JmpOp,
    dst: Scalar,
    src: Scalar,
    is32: bool,
    *,
    negate: bool = False,
    same_reg: bool = False,
) -> tuple[Scalar, Scalar]:
    """The ``(dst, src)`` states on the path where ``dst op src`` is true (``negate``: false),
    each synced (``regs_refine_cond_op`` + ``reg_bounds_sync``, as ``reg_set_min_max``).

    ``same_reg`` says both operands are one register (``if w0 <= w0``): the kernel then refines
    that one register through both aliases (``w0 > w0`` narrows it to [min + 1, max - 1]) and
    syncs it twice; ``src`` is ignored and both results are the same value."""
    r1 = Reg(dst)
    r2 = r1 if same_reg else Reg(src)
    regs_refine_cond_op(r1, r2, op, is32, negate)
    sync_reg(r1)
    sync_reg(r2)
    return r1.freeze(), r2.freeze()
