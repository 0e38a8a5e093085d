"""Frozen copy of the scalar domain before the 2026 speed work (reference for differential tests).

The straightforward transcription of the kernel's ``reg_bounds_sync``, ALU transfer functions and
branch refinement, on the mutable :class:`Reg` scratch copy, exactly as ``src/bpfvm/verifier``
had it. ``test_scalar_fast.py`` checks that the optimised functions give the same results. Do
not optimise this file.
"""

# ruff: noqa

from __future__ import annotations

from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.verifier.scalar_state import S32_MAX, S32_MIN, S64_MAX, S64_MIN, Scalar
from bpfvm.verifier.tnum import U32_MAX, U64_MAX, Tnum

S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
S8_MIN, S8_MAX = -(1 << 7), (1 << 7) - 1


def u64(v: int) -> int:
    return v & U64_MAX


def u32(v: int) -> int:
    return v & U32_MAX


def s64(v: int) -> int:
    v &= U64_MAX
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= U32_MAX
    return v - (1 << 32) if v >> 31 else v


def sext(v: int, bits: int) -> int:
    """The low ``bits`` of ``v`` as a signed int (C's ``(s8)``/``(s16)``/``(s32)`` casts)."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


class Reg:
    """Mutable scratch copy of a :class:`Scalar` for the kernel's in-place algorithms."""

    __slots__ = (
        "s32_max",
        "s32_min",
        "smax",
        "smin",
        "u32_max",
        "u32_min",
        "umax",
        "umin",
        "var_off",
    )

    def __init__(self, s: Scalar) -> None:
        self.var_off = s.var_off
        self.smin, self.smax, self.umin, self.umax = s.smin, s.smax, s.umin, s.umax
        self.s32_min, self.s32_max = s.s32_min, s.s32_max
        self.u32_min, self.u32_max = s.u32_min, s.u32_max

    def freeze(self) -> Scalar:
        return Scalar(
            self.var_off,
            self.smin,
            self.smax,
            self.umin,
            self.umax,
            self.s32_min,
            self.s32_max,
            self.u32_min,
            self.u32_max,
        )


# --- marking ------------------------------------------------------------------------------------


def mark_reg_known(r: Reg, imm: int) -> None:
    """``___mark_reg_known``: every part becomes the constant ``imm``."""
    imm = u64(imm)
    r.var_off = Tnum(imm, 0)
    r.smin = r.smax = s64(imm)
    r.umin = r.umax = imm
    r.s32_min = r.s32_max = s32(imm)
    r.u32_min = r.u32_max = u32(imm)


def mark_reg32_known(r: Reg, imm: int) -> None:
    """``__mark_reg32_known``: the low 32 bits become ``imm``."""
    r.var_off = r.var_off.const_subreg(imm)
    r.s32_min = r.s32_max = s32(imm)
    r.u32_min = r.u32_max = u32(imm)


def mark_reg64_unbounded(r: Reg) -> None:
    """``__mark_reg64_unbounded``."""
    r.smin, r.smax, r.umin, r.umax = S64_MIN, S64_MAX, 0, U64_MAX


def mark_reg32_unbounded(r: Reg) -> None:
    """``__mark_reg32_unbounded``."""
    r.s32_min, r.s32_max, r.u32_min, r.u32_max = S32_MIN, S32_MAX, 0, U32_MAX


def mark_reg_unbounded(r: Reg) -> None:
    """``__mark_reg_unbounded``."""
    mark_reg64_unbounded(r)
    mark_reg32_unbounded(r)


# --- bounds from the tnum -----------------------------------------------------------------------


def update_reg32_bounds(r: Reg) -> None:
    """``__update_reg32_bounds``: tighten the 32-bit ranges with the low half of the tnum."""
    t = r.var_off.subreg()
    r.s32_min = max(r.s32_min, s32(t.value | (t.mask & 0x80000000)))
    r.s32_max = min(r.s32_max, s32(t.value | (t.mask & 0x7FFFFFFF)))
    r.u32_min = max(r.u32_min, t.value)
    r.u32_max = min(r.u32_max, t.value | t.mask)


def update_reg64_bounds(r: Reg) -> None:
    """``__update_reg64_bounds``: tighten the 64-bit ranges with the tnum, then collapse to a
    constant when the u64 range and the tnum share a single value (the tnum_step refinement
    of 2026, backported to 6.18.y)."""
    t = r.var_off
    r.smin = max(r.smin, s64(t.value | (t.mask & 1 << 63)))
    r.smax = min(r.smax, s64(t.value | (t.mask & S64_MAX)))
    r.umin = max(r.umin, t.value)
    r.umax = min(r.umax, t.value | t.mask)

    tnum_next = t.step(r.umin)
    umin_in_tnum = (r.umin & ~t.mask) == t.value
    tmax = t.value | t.mask
    if umin_in_tnum and tnum_next > r.umax:
        mark_reg_known(r, r.umin)
    elif not umin_in_tnum and tnum_next == tmax:
        mark_reg_known(r, tmax)
    elif not umin_in_tnum and tnum_next <= r.umax and t.step(tnum_next) > r.umax:
        mark_reg_known(r, tnum_next)


def update_reg_bounds(r: Reg) -> None:
    """``__update_reg_bounds``."""
    update_reg32_bounds(r)
    update_reg64_bounds(r)


# --- bounds from each other ---------------------------------------------------------------------


def _reg32_from_reg64(r: Reg) -> None:
    """First half of ``__reg32_deduce_bounds``: the 64-bit ranges bound the low 32 bits when
    their upper halves are equal or consecutive."""
    if r.umin >> 32 == r.umax >> 32:
        r.u32_min = max(r.u32_min, u32(r.umin))
        r.u32_max = min(r.u32_max, u32(r.umax))
        if s32(r.umin) <= s32(r.umax):
            r.s32_min = max(r.s32_min, s32(r.umin))
            r.s32_max = min(r.s32_max, s32(r.umax))
    if r.smin >> 32 == r.smax >> 32:
        if u32(r.smin) <= u32(r.smax):
            r.u32_min = max(r.u32_min, u32(r.smin))
            r.u32_max = min(r.u32_max, u32(r.smax))
        if s32(r.smin) <= s32(r.smax):
            r.s32_min = max(r.s32_min, s32(r.smin))
            r.s32_max = min(r.s32_max, s32(r.smax))
    if u32((r.umin >> 32) + 1) == u32(r.umax >> 32) and s32(r.umin) < 0 <= s32(r.umax):
        r.s32_min = max(r.s32_min, s32(r.umin))
        r.s32_max = min(r.s32_max, s32(r.umax))
    if u32((r.smin >> 32) + 1) == u32(r.smax >> 32) and s32(r.smin) < 0 <= s32(r.smax):
        r.s32_min = max(r.s32_min, s32(r.smin))
        r.s32_max = min(r.s32_max, s32(r.smax))


def reg32_deduce_bounds(r: Reg) -> None:
    """``__reg32_deduce_bounds``, with the sign-boundary refinement of 2026 (backported to
    6.18.y): s32 and u32 ranges tighten each other when the s32 range does not cross the u32
    wrap point, or crosses it but meets the u32 range on one side only."""
    _reg32_from_reg64(r)
    if s32(r.u32_min) <= s32(r.u32_max):
        r.s32_min = max(r.s32_min, s32(r.u32_min))
        r.s32_max = min(r.s32_max, s32(r.u32_max))
    if u32(r.s32_min) <= u32(r.s32_max):
        r.u32_min = max(u32(r.s32_min), r.u32_min)
        r.u32_max = min(u32(r.s32_max), r.u32_max)
    elif r.u32_max < u32(r.s32_min):
        r.s32_min = s32(r.u32_min)
        r.u32_max = min(r.u32_max, u32(r.s32_max))
    elif u32(r.s32_max) < r.u32_min:
        r.s32_max = s32(r.u32_max)
        r.u32_min = max(r.u32_min, u32(r.s32_min))


def reg64_deduce_bounds(r: Reg) -> None:
    """``__reg64_deduce_bounds``: s64 and u64 ranges tighten each other when the s64 range does
    not cross the u64 wrap point, or crosses it but meets the u64 range on one side only."""
    if s64(r.umin) <= s64(r.umax):
        r.smin = max(r.smin, s64(r.umin))
        r.smax = min(r.smax, s64(r.umax))
    if u64(r.smin) <= u64(r.smax):
        r.umin = max(u64(r.smin), r.umin)
        r.umax = min(u64(r.smax), r.umax)
    elif r.umax < u64(r.smin):
        r.smin = s64(r.umin)
        r.umax = min(r.umax, u64(r.smax))
    elif u64(r.smax) < r.umin:
        r.smax = s64(r.umax)
        r.umin = max(r.umin, u64(r.smin))


def reg_deduce_mixed_bounds(r: Reg) -> None:
    """``__reg_deduce_mixed_bounds``: splice the u32 range into the low halves of the 64-bit
    bounds, and take a non-negative s32 range for the whole register when the s64 range lies
    within [S32_MIN, S32_MAX]."""
    low = ~U32_MAX & U64_MAX
    r.umin = max(r.umin, (r.umin & low) | r.u32_min)
    r.umax = min(r.umax, (r.umax & low) | r.u32_max)
    r.smin = max(r.smin, s64((u64(r.smin) & low) | r.u32_min))
    r.smax = min(r.smax, s64((u64(r.smax) & low) | r.u32_max))
    if r.s32_min >= 0 and r.smin >= S32_MIN and r.smax <= S32_MAX:
        r.smin, r.smax = r.s32_min, r.s32_max
        r.umin, r.umax = r.s32_min, r.s32_max
        r.var_off = r.var_off.intersect(Tnum.range(r.smin, r.smax))


def reg_deduce_bounds(r: Reg) -> None:
    """``__reg_deduce_bounds``."""
    reg32_deduce_bounds(r)
    reg64_deduce_bounds(r)
    reg_deduce_mixed_bounds(r)


def reg_bound_offset(r: Reg) -> None:
    """``__reg_bound_offset``: learn tnum bits from the u64 and u32 ranges."""
    var64 = r.var_off.intersect(Tnum.range(r.umin, r.umax))
    var32 = var64.subreg().intersect(Tnum.range(r.u32_min, r.u32_max))
    r.var_off = var64.clear_subreg().or_(var32)


def sync_reg(r: Reg) -> None:
    """``reg_bounds_sync`` on a scratch register."""
    update_reg_bounds(r)
    reg_deduce_bounds(r)
    reg_deduce_bounds(r)
    reg_deduce_bounds(r)
    reg_bound_offset(r)
    update_reg_bounds(r)


def reg_bounds_sync(s: Scalar) -> Scalar:
    """``reg_bounds_sync``: bounds from the tnum, three rounds of deduction between the
    ranges, tnum bits from the ranges, and bounds from the tnum again."""
    r = Reg(s)
    sync_reg(r)
    return r.freeze()


# --- width changes ------------------------------------------------------------------------------


def assign_32_into_64(r: Reg) -> None:
    """``__reg_assign_32_into_64``: the u32 range becomes the u64 range; the s32 range becomes
    the s64 range only when it is non-negative, else [0, U32_MAX]."""
    r.umin, r.umax = r.u32_min, r.u32_max
    if r.s32_min >= 0 and r.s32_max >= 0:
        r.smin, r.smax = r.s32_min, r.s32_max
    else:
        r.smin, r.smax = 0, U32_MAX


def zext_reg(r: Reg) -> None:
    """``zext_32_to_64`` on a scratch register."""
    r.var_off = r.var_off.subreg()
    assign_32_into_64(r)


def zext_32_to_64(s: Scalar) -> Scalar:
    """``zext_32_to_64``: the result of a 32-bit operation, zero-extended (no sync)."""
    r = Reg(s)
    zext_reg(r)
    return r.freeze()


def coerce_reg(r: Reg, size: int) -> None:
    """``coerce_reg_to_size`` on a scratch register (size < 8 bytes)."""
    r.var_off = r.var_off.cast(size)
    mask = (1 << (size * 8)) - 1
    if r.umin & ~mask == r.umax & ~mask:
        r.umin &= mask
        r.umax &= mask
    else:
        r.umin, r.umax = 0, mask
    r.smin, r.smax = r.umin, r.umax
    if size < 4:
        mark_reg32_unbounded(r)
    sync_reg(r)


def coerce_reg_to_size(s: Scalar, size: int) -> Scalar:
    """``coerce_reg_to_size``: truncate to the low ``size`` bytes (1, 2 or 4), zero-extended, as
    a narrow load does; then sync."""
    r = Reg(s)
    coerce_reg(r, size)
    return r.freeze()


def _sext_default64(r: Reg, size: int) -> None:
    """``set_sext64_default_val``."""
    lo, hi = {1: (S8_MIN, S8_MAX), 2: (S16_MIN, S16_MAX), 4: (S32_MIN, S32_MAX)}[size]
    r.smin = r.s32_min = lo
    r.smax = r.s32_max = hi
    r.umin = r.u32_min = 0
    r.umax, r.u32_max = U64_MAX, U32_MAX
    r.var_off = Tnum.unknown()


def coerce_reg_to_size_sx(s: Scalar, size: int) -> Scalar:
    """``coerce_reg_to_size_sx``: sign-extend the low ``size`` bytes (1, 2 or 4) to 64 bits, as a
    sign-extending load or ``MOVSX`` does. Not followed by a sync, as in the kernel."""
    r = Reg(s)
    bits = size * 8
    if r.var_off.is_const():
        v = u64(sext(r.var_off.value, bits))
        r.var_off = Tnum(v, 0)
        r.smin = r.smax = s64(v)
        r.umin = r.umax = v
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return r.freeze()
    if u64(r.smax) >> bits != u64(r.smin) >> bits:
        _sext_default64(r, size)
        return r.freeze()
    a, b = sext(r.smax, bits), sext(r.smin, bits)
    hi, lo = max(a, b), min(a, b)
    if (hi >= 0) != (lo >= 0):
        _sext_default64(r, size)
        return r.freeze()
    r.s32_min, r.smin = s32(lo), lo
    r.s32_max, r.smax = s32(hi), hi
    r.u32_min, r.umin = u32(lo), u64(lo)
    r.u32_max, r.umax = u32(hi), u64(hi)
    r.var_off = Tnum.range(lo, hi)
    return r.freeze()


def _sext_default32(r: Reg, size: int) -> None:
    """``set_sext32_default_val``."""
    r.s32_min, r.s32_max = (S8_MIN, S8_MAX) if size == 1 else (S16_MIN, S16_MAX)
    r.u32_min, r.u32_max = 0, U32_MAX
    r.var_off = Tnum.unknown().subreg()


def coerce_subreg_to_size_sx(s: Scalar, size: int) -> Scalar:
    """``coerce_subreg_to_size_sx``: sign-extend the low ``size`` bytes (1 or 2) into the 32-bit
    subregister, as ``w = (s8/s16) w`` does before its zero extension. The 64-bit bounds are
    left to the caller's ``zext_32_to_64``."""
    r = Reg(s)
    bits = size * 8
    if r.var_off.is_const():
        v = sext(r.var_off.value, bits)
        r.var_off = Tnum.const(v)
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return r.freeze()
    if u32(r.s32_max) >> bits != u32(r.s32_min) >> bits:
        _sext_default32(r, size)
        return r.freeze()
    a, b = sext(r.s32_max, bits), sext(r.s32_min, bits)
    hi, lo = max(a, b), min(a, b)
    if (lo >= 0) != (hi >= 0):
        _sext_default32(r, size)
        return r.freeze()
    r.s32_min, r.s32_max = lo, hi
    r.u32_min, r.u32_max = u32(lo), u32(hi)
    r.var_off = Tnum.range(lo, hi).subreg()
    return r.freeze()


# --- add / sub / mul ----------------------------------------------------------------------------


def _fits(v: int, lo: int, hi: int) -> bool:
    return lo <= v <= hi


def _add32(d: Reg, s: Scalar) -> None:
    """``scalar32_min_max_add``: signed bounds are lost on possible overflow; unsigned bounds
    survive when no addition or every addition wraps."""
    lo, hi = d.s32_min + s.s32_min, d.s32_max + s.s32_max
    if _fits(lo, S32_MIN, S32_MAX) and _fits(hi, S32_MIN, S32_MAX):
        d.s32_min, d.s32_max = lo, hi
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
    umin, umax = d.u32_min + s.u32_min, d.u32_max + s.u32_max
    if umin <= U32_MAX < umax:
        d.u32_min, d.u32_max = 0, U32_MAX
    else:
        d.u32_min, d.u32_max = u32(umin), u32(umax)


def _add64(d: Reg, s: Scalar) -> None:
    """``scalar_min_max_add``."""
    lo, hi = d.smin + s.smin, d.smax + s.smax
    if _fits(lo, S64_MIN, S64_MAX) and _fits(hi, S64_MIN, S64_MAX):
        d.smin, d.smax = lo, hi
    else:
        d.smin, d.smax = S64_MIN, S64_MAX
    umin, umax = d.umin + s.umin, d.umax + s.umax
    if umin <= U64_MAX < umax:
        d.umin, d.umax = 0, U64_MAX
    else:
        d.umin, d.umax = u64(umin), u64(umax)


def _sub32(d: Reg, s: Scalar) -> None:
    """``scalar32_min_max_sub``: unsigned bounds survive when no subtraction or every
    subtraction borrows."""
    lo, hi = d.s32_min - s.s32_max, d.s32_max - s.s32_min
    if _fits(lo, S32_MIN, S32_MAX) and _fits(hi, S32_MIN, S32_MAX):
        d.s32_min, d.s32_max = lo, hi
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
    umin, umax = d.u32_min - s.u32_max, d.u32_max - s.u32_min
    if umin < 0 <= umax:
        d.u32_min, d.u32_max = 0, U32_MAX
    else:
        d.u32_min, d.u32_max = u32(umin), u32(umax)


def _sub64(d: Reg, s: Scalar) -> None:
    """``scalar_min_max_sub``."""
    lo, hi = d.smin - s.smax, d.smax - s.smin
    if _fits(lo, S64_MIN, S64_MAX) and _fits(hi, S64_MIN, S64_MAX):
        d.smin, d.smax = lo, hi
    else:
        d.smin, d.smax = S64_MIN, S64_MAX
    umin, umax = d.umin - s.umax, d.umax - s.umin
    if umin < 0 <= umax:
        d.umin, d.umax = 0, U64_MAX
    else:
        d.umin, d.umax = u64(umin), u64(umax)


def _mul32(d: Reg, s: Scalar) -> None:
    """``scalar32_min_max_mul``: products of the bounds, unless one may overflow."""
    umax, umin = d.u32_max * s.u32_max, d.u32_min * s.u32_min
    if umax > U32_MAX or umin > U32_MAX:
        d.u32_min, d.u32_max = 0, U32_MAX
    else:
        d.u32_min, d.u32_max = umin, umax
    prods = [a * b for a in (d.s32_min, d.s32_max) for b in (s.s32_min, s.s32_max)]
    if all(_fits(p, S32_MIN, S32_MAX) for p in prods):
        d.s32_min, d.s32_max = min(prods), max(prods)
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX


def _mul64(d: Reg, s: Scalar) -> None:
    """``scalar_min_max_mul``."""
    umax, umin = d.umax * s.umax, d.umin * s.umin
    if umax > U64_MAX or umin > U64_MAX:
        d.umin, d.umax = 0, U64_MAX
    else:
        d.umin, d.umax = umin, umax
    prods = [a * b for a in (d.smin, d.smax) for b in (s.smin, s.smax)]
    if all(_fits(p, S64_MIN, S64_MAX) for p in prods):
        d.smin, d.smax = min(prods), max(prods)
    else:
        d.smin, d.smax = S64_MIN, S64_MAX


# --- and / or / xor (var_off already updated) ---------------------------------------------------


def _signed32_from_unsigned(d: Reg) -> None:
    if s32(d.u32_min) <= s32(d.u32_max):
        d.s32_min, d.s32_max = s32(d.u32_min), s32(d.u32_max)
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX


def _signed64_from_unsigned(d: Reg) -> None:
    if s64(d.umin) <= s64(d.umax):
        d.smin, d.smax = s64(d.umin), s64(d.umax)
    else:
        d.smin, d.smax = S64_MIN, S64_MAX


def _bitwise32(op: AluOp, d: Reg, s: Scalar) -> None:
    """``scalar32_min_max_and/or/xor``: the u32 range from the result tnum and the operands."""
    t = d.var_off.subreg()
    if s.var_off.subreg_is_const() and d.var_off.subreg_is_const():
        mark_reg32_known(d, t.value)
        return
    if op == AluOp.AND:
        d.u32_min, d.u32_max = t.value, min(d.u32_max, s.u32_max)
    elif op == AluOp.OR:
        d.u32_min, d.u32_max = max(d.u32_min, s.u32_min), t.value | t.mask
    else:
        d.u32_min, d.u32_max = t.value, t.value | t.mask
    _signed32_from_unsigned(d)


def _bitwise64(op: AluOp, d: Reg, s: Scalar) -> None:
    """``scalar_min_max_and/or/xor``."""
    t = d.var_off
    if s.var_off.is_const() and t.is_const():
        mark_reg_known(d, t.value)
        return
    if op == AluOp.AND:
        d.umin, d.umax = t.value, min(d.umax, s.umax)
    elif op == AluOp.OR:
        d.umin, d.umax = max(d.umin, s.umin), t.value | t.mask
    else:
        d.umin, d.umax = t.value, t.value | t.mask
    _signed64_from_unsigned(d)
    update_reg_bounds(d)


_TNUM_BITWISE = {AluOp.AND: Tnum.and_, AluOp.OR: Tnum.or_, AluOp.XOR: Tnum.xor}

# --- shifts -------------------------------------------------------------------------------------


def _lsh32_bounds(d: Reg, umin_val: int, umax_val: int) -> None:
    """``__scalar32_min_max_lsh``."""
    d.s32_min, d.s32_max = S32_MIN, S32_MAX
    if umax_val > 31 or d.u32_max > 1 << (31 - umax_val):
        d.u32_min, d.u32_max = 0, U32_MAX
    else:  # u32 arithmetic: an impossible state's u32_min > u32_max may wrap
        d.u32_min = (d.u32_min << umin_val) & U32_MAX
        d.u32_max = (d.u32_max << umax_val) & U32_MAX


def _lsh64_bounds(d: Reg, umin_val: int, umax_val: int) -> None:
    """``__scalar64_min_max_lsh``: ``<< 32`` moves the s32 range into the upper half, signs
    included (a 2025 upstream change backported to 6.18.y); other shifts lose the signed bounds."""
    if umin_val == 32 and umax_val == 32:
        d.smin, d.smax = d.s32_min << 32, d.s32_max << 32
    else:
        d.smin, d.smax = S64_MIN, S64_MAX
    if d.umax > 1 << (63 - umax_val):
        d.umin, d.umax = 0, U64_MAX
    else:
        d.umin = (d.umin << umin_val) & U64_MAX
        d.umax = (d.umax << umax_val) & U64_MAX


def _lsh(d: Reg, s: Scalar, alu32: bool) -> None:
    """``scalar32_min_max_lsh`` / ``scalar_min_max_lsh``."""
    if alu32:
        sub = d.var_off.subreg()
        _lsh32_bounds(d, s.u32_min, s.u32_max)
        d.var_off = sub.lshift(s.u32_min).subreg()
        mark_reg64_unbounded(d)
        update_reg32_bounds(d)
        return
    _lsh64_bounds(d, s.umin, s.umax)
    _lsh32_bounds(d, s.umin, s.umax)
    d.var_off = d.var_off.lshift(s.umin)
    update_reg_bounds(d)


def _rsh(d: Reg, s: Scalar, alu32: bool) -> None:
    """``scalar32_min_max_rsh`` / ``scalar_min_max_rsh``: signed bounds are rebuilt from the
    unsigned ones and the tnum."""
    if alu32:
        sub = d.var_off.subreg()
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
        d.var_off = sub.rshift(s.u32_min)
        d.u32_min >>= s.u32_max
        d.u32_max >>= s.u32_min
        mark_reg64_unbounded(d)
        update_reg32_bounds(d)
        return
    d.smin, d.smax = S64_MIN, S64_MAX
    d.var_off = d.var_off.rshift(s.umin)
    d.umin >>= s.umax
    d.umax >>= s.umin
    mark_reg32_unbounded(d)
    update_reg_bounds(d)


def _arsh(d: Reg, s: Scalar, alu32: bool) -> None:
    """``scalar32_min_max_arsh`` / ``scalar_min_max_arsh`` (the amount is a known constant)."""
    if alu32:
        n = s.u32_min
        d.s32_min >>= n
        d.s32_max >>= n
        d.var_off = d.var_off.subreg().arshift(n, 32)
        d.u32_min, d.u32_max = 0, U32_MAX
        mark_reg64_unbounded(d)
        update_reg32_bounds(d)
        return
    n = s.umin
    d.smin >>= n
    d.smax >>= n
    d.var_off = d.var_off.arshift(n, 64)
    d.umin, d.umax = 0, U64_MAX
    mark_reg32_unbounded(d)
    update_reg_bounds(d)


# --- dispatch -----------------------------------------------------------------------------------

_RANGE_OPS = frozenset({AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR})
_SHIFTS = frozenset({AluOp.LSH, AluOp.RSH, AluOp.ARSH})


def is_safe_to_compute(op: AluOp, src: Scalar, alu32: bool) -> bool:
    """``is_safe_to_compute_dst_reg_range``: shifts need a constant amount below the width (the
    64-bit ``umax`` is checked even for ALU32); division and modulo are never tracked."""
    if op in _RANGE_OPS or op in (AluOp.NEG, AluOp.END):
        return True
    if op not in _SHIFTS:
        return False
    if alu32:
        known = src.subreg_is_const() and src.s32_min == src.s32_max
        known = known and src.u32_min == src.u32_max
    else:
        known = src.is_const() and src.smin == src.smax and src.umin == src.umax
    return known and src.umax < (32 if alu32 else 64)


def _apply(op: AluOp, d: Reg, src: Scalar, alu32: bool) -> None:
    if op == AluOp.ADD:
        _add32(d, src)
        _add64(d, src)
        d.var_off = d.var_off.add(src.var_off)
    elif op == AluOp.SUB:
        _sub32(d, src)
        _sub64(d, src)
        d.var_off = d.var_off.sub(src.var_off)
    elif op == AluOp.MUL:
        d.var_off = d.var_off.mul(src.var_off)
        _mul32(d, src)
        _mul64(d, src)
    elif op in _TNUM_BITWISE:
        d.var_off = _TNUM_BITWISE[op](d.var_off, src.var_off)
        _bitwise32(op, d, src)
        _bitwise64(op, d, src)
    elif op == AluOp.LSH:
        _lsh(d, src, alu32)
    elif op == AluOp.RSH:
        _rsh(d, src, alu32)
    else:
        _arsh(d, src, alu32)


def _finish(d: Reg, alu32: bool) -> Scalar:
    if alu32:
        zext_reg(d)
    sync_reg(d)
    return d.freeze()


def scalar_alu(op: AluOp, dst: Scalar, src: Scalar, alu32: bool) -> Scalar:
    """The new value of ``dst`` after ``dst op= src`` (``adjust_scalar_min_max_vals``, and
    ``check_alu_op`` for ``MOV``). ``NEG`` ignores ``src``; ``END`` needs
    :func:`scalar_end`. Signed division and modulo use the ``DIV``/``MOD`` opcodes and are
    untracked alike."""
    if op == AluOp.MOV:
        return _mov(dst, src, alu32)
    if op == AluOp.NEG:
        return scalar_neg(dst, alu32)
    if op == AluOp.END:
        raise ValueError("BPF_END needs its size and direction: use scalar_end()")
    if not is_safe_to_compute(op, src, alu32):
        return Scalar.unknown()
    d = Reg(dst)
    _apply(op, d, src, alu32)
    return _finish(d, alu32)


def _mov(dst: Scalar, src: Scalar, alu32: bool) -> Scalar:
    """``MOV``: a copy; the 32-bit form zero-extends and syncs (``check_alu_op``)."""
    if not alu32:
        return src
    d = Reg(src)
    return _finish(d, True)


def scalar_neg(dst: Scalar, alu32: bool) -> Scalar:
    """``BPF_NEG``: ``0 - dst`` with the subtraction's range rules and ``tnum_neg``."""
    d = Reg(dst)
    mark_reg_known(d, 0)
    _sub32(d, dst)
    _sub64(d, dst)
    d.var_off = dst.var_off.neg()
    return _finish(d, alu32)


def scalar_end(dst: Scalar, bits: int, *, alu64: bool, to_be: bool) -> Scalar:
    """``BPF_END`` (``scalar_byte_swap``, 2026, backported to 6.18.y) on a little-endian host:
    ``bswap`` (ALU64) and ``be16/32/64`` swap the tnum's bytes and forget the ranges;
    16- and 32-bit forms then truncate (``le16``/``le32`` only truncate, ``le64`` is a no-op).
    There is no zero extension step; the result is synced."""
    d = Reg(dst)
    if alu64 or to_be:
        swap = {16: Tnum.bswap16, 32: Tnum.bswap32, 64: Tnum.bswap64}[bits]
        d.var_off = swap(d.var_off)
        mark_reg_unbounded(d)
    if bits in (16, 32):
        coerce_reg(d, bits // 8)
    sync_reg(d)
    return d.freeze()


def scalar_movsx(src: Scalar, size: int, alu32: bool) -> Scalar:
    """``MOVSX``: ``r = (s8/s16/s32) r`` sign-extends without a sync; ``w = (s8/s16) w``
    sign-extends the subregister, then zero-extends and syncs (``check_alu_op``). ``size`` is
    in bytes."""
    if not alu32:
        return coerce_reg_to_size_sx(src, size)
    d = Reg(coerce_subreg_to_size_sx(src, size))
    return _finish(d, True)


def linked_scalar_delta(known: Scalar, delta: int, alu32: bool) -> Scalar:
    """The delta arm of ``sync_linked_regs``: ``known + delta`` for a register linked to
    ``known`` with ``id=N+off`` (``delta`` is the difference of the two offsets), using the
    add rules without a sync, then zero-extended (still unsynced) when the link came from a
    32-bit add (``BPF_ADD_CONST32``, a 2026 upstream change backported to 6.18.y)."""
    d = Reg(known)
    k = Scalar.const(delta)
    _add32(d, k)
    _add64(d, k)
    d.var_off = d.var_off.add(k.var_off)
    if alu32:
        zext_reg(d)
    return d.freeze()


def fork_scalar(op: AluOp, dst: Scalar, src: Scalar) -> tuple[Scalar, Scalar] | None:
    """``maybe_fork_scalars`` (2026, backported to 6.18.y): ``AND``/``OR`` with a constant
    (``tnum_is_const`` of the whole source) on a destination whose s64 (else s32) range is
    exactly [-1, 0] splits the state. Returns ``(this_path, pushed_path)`` destinations: the
    current path continues with -1, a state pushed at the same instruction (``from N to N``)
    re-runs it with 0; the 32-bit case only sets the low half. None when there is no fork."""
    if op not in (AluOp.AND, AluOp.OR) or not src.var_off.is_const():
        return None
    if dst.smin == -1 and dst.smax == 0:
        return Scalar.const(-1), Scalar.const(0)
    if dst.s32_min == -1 and dst.s32_max == 0:
        return dst.with_subreg_const(-1), dst.with_subreg_const(0)
    return None


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
