"""The numeric state of a scalar register and the kernel's rules keeping its parts in sync.

A :class:`Scalar` holds what ``struct bpf_reg_state`` knows about a SCALAR_VALUE: a tnum and
four pairs of bounds (s64, u64, s32, u32). All four ranges and the tnum describe the same set of
u64 values; the sync rules (:func:`reg_bounds_sync`) let each part tighten the others, in the
kernel's order, so the results match the kernel bit for bit.

Representation: unsigned bounds are Python ints in ``[0, 2**64)`` / ``[0, 2**32)``, signed
bounds in ``[-2**63, 2**63)`` / ``[-2**31, 2**31)``. A :class:`Scalar` is immutable; the
multi-step kernel algorithms run on :class:`Reg`, a mutable scratch copy with the same fields,
whose functions are named after the kernel functions they mirror (Linux 6.18.y, including the
stable backports the 6.18.44 oracle carries). Outside the abstract-domain code only
:class:`Scalar` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bpfvm.verifier.tnum import U32_MAX, U64_MAX, Tnum

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1
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


@dataclass(frozen=True, slots=True)
class Scalar:
    """What the verifier knows about a scalar: a tnum plus s64/u64/s32/u32 bounds."""

    var_off: Tnum
    smin: int
    smax: int
    umin: int
    umax: int
    s32_min: int
    s32_max: int
    u32_min: int
    u32_max: int

    @staticmethod
    def unknown() -> Scalar:
        """Any value (``__mark_reg_unknown``)."""
        return _UNKNOWN

    @staticmethod
    def const(v: int) -> Scalar:
        """The single value ``v`` taken modulo 2**64 (``__mark_reg_known``)."""
        res = _CONST_CACHE.get(v)
        if res is None:
            u = v & U64_MAX
            sv = u - (1 << 64) if u >> 63 else u
            lo = u & U32_MAX
            slo = lo - (1 << 32) if lo >> 31 else lo
            res = _new_scalar(Tnum(u, 0), sv, sv, u, u, slo, slo, lo, lo)
            if len(_CONST_CACHE) >= _CONST_CACHE_MAX:
                _CONST_CACHE.clear()
            _CONST_CACHE[v] = res
        return res

    @staticmethod
    def const32(v: int) -> Scalar:
        """A 32-bit constant zero-extended, as ``w = imm`` leaves it (``__mark_reg_known`` of
        ``(u32)imm``)."""
        return Scalar.const(u32(v))

    def is_const(self) -> bool:
        """``tnum_is_const(var_off)``: the whole register is known."""
        return self.var_off.mask == 0

    @property
    def const_value(self) -> int:
        """The u64 value of a constant (meaningful only when :meth:`is_const`)."""
        return self.var_off.value

    def subreg_is_const(self) -> bool:
        """``tnum_subreg_is_const(var_off)``: the low 32 bits are known."""
        return self.var_off.subreg_is_const()

    def is_reg_const(self, is32: bool) -> bool:
        """``is_reg_const``: known in the width of a (32- or 64-bit) comparison."""
        return self.subreg_is_const() if is32 else self.is_const()

    def reg_const_value(self, is32: bool) -> int:
        """``reg_const_value``: the known value in that width."""
        return u32(self.var_off.value) if is32 else self.var_off.value

    def width(self) -> int:
        """``get_reg_width``: bits needed for the largest possible value, ``fls64(umax)``."""
        return self.umax.bit_length()

    def contains(self, v: int) -> bool:
        """Whether the concrete u64 ``v`` satisfies the tnum and all four ranges."""
        v = u64(v)
        return (
            self.var_off.contains_value(v)
            and self.umin <= v <= self.umax
            and self.smin <= s64(v) <= self.smax
            and self.u32_min <= u32(v) <= self.u32_max
            and self.s32_min <= s32(v) <= self.s32_max
        )

    def with_unbounded(self) -> Scalar:
        """``__mark_reg_unbounded``: forget the ranges, keep the tnum."""
        return Scalar(self.var_off, S64_MIN, S64_MAX, 0, U64_MAX, S32_MIN, S32_MAX, 0, U32_MAX)

    def with_subreg_const(self, v: int) -> Scalar:
        """``__mark_reg32_known``: low 32 bits become ``v``; 64-bit bounds are left as they are."""
        r = Reg(self)
        mark_reg32_known(r, v)
        return r.freeze()

    def bounds_violation(self) -> str | None:
        """The reason ``reg_bounds_sanity_check`` would report, or None when consistent."""
        if (
            self.umin > self.umax
            or self.smin > self.smax
            or self.u32_min > self.u32_max
            or self.s32_min > self.s32_max
        ):
            return "range bounds violation"
        if self.is_const():
            v = self.var_off.value
            if not self.umin == self.umax == v or not self.smin == self.smax == s64(v):
                return "const tnum out of sync with range bounds"
        if self.subreg_is_const():
            v32 = u32(self.var_off.value)
            if not self.u32_min == self.u32_max == v32 or not self.s32_min == self.s32_max == s32(
                v32
            ):
                return "const subreg tnum out of sync with range bounds"
        return None


_UNKNOWN = Scalar(Tnum.unknown(), S64_MIN, S64_MAX, 0, U64_MAX, S32_MIN, S32_MAX, 0, U32_MAX)

# Results are immutable, so constants are shared (``Scalar.const`` is called for every immediate).
_CONST_CACHE: dict[int, Scalar] = {}
_CONST_CACHE_MAX = 1 << 14

_new_object = object.__new__
_Setter = Callable[[Scalar, Any], None]
_SET_VAR_OFF: _Setter = Scalar.__dict__["var_off"].__set__
_SET_SMIN: _Setter = Scalar.__dict__["smin"].__set__
_SET_SMAX: _Setter = Scalar.__dict__["smax"].__set__
_SET_UMIN: _Setter = Scalar.__dict__["umin"].__set__
_SET_UMAX: _Setter = Scalar.__dict__["umax"].__set__
_SET_S32_MIN: _Setter = Scalar.__dict__["s32_min"].__set__
_SET_S32_MAX: _Setter = Scalar.__dict__["s32_max"].__set__
_SET_U32_MIN: _Setter = Scalar.__dict__["u32_min"].__set__
_SET_U32_MAX: _Setter = Scalar.__dict__["u32_max"].__set__


def _new_scalar(
    var_off: Tnum,
    smin: int,
    smax: int,
    umin: int,
    umax: int,
    s32_min: int,
    s32_max: int,
    u32_min: int,
    u32_max: int,
) -> Scalar:
    """``Scalar(...)`` without the frozen dataclass's per-field ``object.__setattr__`` calls:
    the slots are filled through their descriptors (same object, about twice as fast)."""
    s: Scalar = _new_object(Scalar)
    _SET_VAR_OFF(s, var_off)
    _SET_SMIN(s, smin)
    _SET_SMAX(s, smax)
    _SET_UMIN(s, umin)
    _SET_UMAX(s, umax)
    _SET_S32_MIN(s, s32_min)
    _SET_S32_MAX(s, s32_max)
    _SET_U32_MIN(s, u32_min)
    _SET_U32_MAX(s, u32_max)
    return s


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
        return _new_scalar(
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
    res = synced(
        r.var_off.value,
        r.var_off.mask,
        r.smin,
        r.smax,
        r.umin,
        r.umax,
        r.s32_min,
        r.s32_max,
        r.u32_min,
        r.u32_max,
    )
    r.var_off = res.var_off
    r.smin, r.smax, r.umin, r.umax = res.smin, res.smax, res.umin, res.umax
    r.s32_min, r.s32_max, r.u32_min, r.u32_max = res.s32_min, res.s32_max, res.u32_min, res.u32_max


def reg_bounds_sync(s: Scalar) -> Scalar:
    """``reg_bounds_sync``: bounds from the tnum, three rounds of deduction between the
    ranges, tnum bits from the ranges, and bounds from the tnum again."""
    t = s.var_off
    return synced(
        t.value, t.mask, s.smin, s.smax, s.umin, s.umax, s.s32_min, s.s32_max, s.u32_min, s.u32_max
    )


# --- the sync on plain ints, memoised -------------------------------------------------------------
#
# ``reg_bounds_sync`` is a pure function of ten ints and the verifier applies it to few distinct
# states (hit rates above 95% on real objects), so results are memoised; a miss runs the kernel's
# steps on local ints (the same algorithm as the ``Reg`` functions above, inlined).

_Key = tuple[int, int, int, int, int, int, int, int, int, int]
_SYNC_CACHE: dict[_Key, Scalar] = {}
_SYNC_CACHE_MAX = 1 << 16
_HIGH32 = U64_MAX & ~U32_MAX
_BIT63 = 1 << 63
_BIT31 = 1 << 31


def synced(
    v: int,
    m: int,
    smin: int,
    smax: int,
    umin: int,
    umax: int,
    s32_min: int,
    s32_max: int,
    u32_min: int,
    u32_max: int,
) -> Scalar:
    """The synced :class:`Scalar` of a state given as a tnum ``(v, m)`` and its eight bounds."""
    key = (v, m, smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)
    res = _SYNC_CACHE.get(key)
    if res is None:
        res = _sync_ints(*key)
        if len(_SYNC_CACHE) >= _SYNC_CACHE_MAX:
            _SYNC_CACHE.clear()
        _SYNC_CACHE[key] = res
    return res


def _tnum_step(v: int, m: int, z: int) -> int:
    """``tnum_step`` on ``(v, m)`` (see :meth:`Tnum.step`)."""
    tmax = v | m
    if z >= tmax:
        return tmax
    if z < v:
        return v
    carry_mask = (1 << ((z - v) & ~m).bit_length()) - 1
    return v | ((((z - v) | carry_mask | ~m) + 1) & m & U64_MAX)


def _sync_ints(
    v: int,
    m: int,
    smin: int,
    smax: int,
    umin: int,
    umax: int,
    s32_min: int,
    s32_max: int,
    u32_min: int,
    u32_max: int,
) -> Scalar:
    """``reg_bounds_sync`` on plain ints; returns a new :class:`Scalar`."""
    if (
        m == 0
        and umin == umax == v
        and smin == smax == (v - (1 << 64) if v & _BIT63 else v)
        and u32_min == u32_max == v & U32_MAX
        and s32_min == s32_max == u32_min - ((u32_min & _BIT31) << 1)
    ):
        # A constant whose bounds all agree with the tnum is already synced.
        return _new_scalar(Tnum(v, 0), smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)
    for final in (False, True):
        # __update_reg_bounds: __update_reg32_bounds then __update_reg64_bounds.
        tv, tm = v & U32_MAX, m & U32_MAX
        x = tv | (tm & 0x80000000)
        x = x - (1 << 32) if x & _BIT31 else x
        if x > s32_min:
            s32_min = x
        x = tv | (tm & 0x7FFFFFFF)
        x = x - (1 << 32) if x & _BIT31 else x
        if x < s32_max:
            s32_max = x
        if tv > u32_min:
            u32_min = tv
        if tv | tm < u32_max:
            u32_max = tv | tm
        x = v | (m & _BIT63)
        x = x - (1 << 64) if x & _BIT63 else x
        if x > smin:
            smin = x
        x = v | (m & S64_MAX)
        x = x - (1 << 64) if x & _BIT63 else x
        if x < smax:
            smax = x
        if v > umin:
            umin = v
        tmax = v | m
        if tmax < umax:
            umax = tmax
        known = -1
        tnum_next = _tnum_step(v, m, umin)
        if (umin & ~m) == v:
            if tnum_next > umax:
                known = umin
        elif tnum_next == tmax:
            known = tmax
        elif tnum_next <= umax and _tnum_step(v, m, tnum_next) > umax:
            known = tnum_next
        if known >= 0:
            v, m = known, 0
            umin = umax = known
            smin = smax = known - (1 << 64) if known & _BIT63 else known
            u32_min = u32_max = known & U32_MAX
            s32_min = s32_max = u32_min - ((u32_min & _BIT31) << 1)
        if final:
            break
        # __reg_deduce_bounds, three times (a round that changes nothing is a fixed point).
        for _ in range(3):
            before = (v, m, smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)
            # __reg32_deduce_bounds, first half: from the 64-bit ranges.
            lo32, hi32 = umin & U32_MAX, umax & U32_MAX
            slo32 = lo32 - ((lo32 & _BIT31) << 1)
            shi32 = hi32 - ((hi32 & _BIT31) << 1)
            if umin >> 32 == umax >> 32:
                u32_min = max(u32_min, lo32)
                u32_max = min(u32_max, hi32)
                if slo32 <= shi32:
                    s32_min = max(s32_min, slo32)
                    s32_max = min(s32_max, shi32)
            slo, shi = smin & U32_MAX, smax & U32_MAX
            sslo = slo - ((slo & _BIT31) << 1)
            sshi = shi - ((shi & _BIT31) << 1)
            if smin >> 32 == smax >> 32:
                if slo <= shi:
                    u32_min = max(u32_min, slo)
                    u32_max = min(u32_max, shi)
                if sslo <= sshi:
                    s32_min = max(s32_min, sslo)
                    s32_max = min(s32_max, sshi)
            if ((umin >> 32) + 1) & U32_MAX == (umax >> 32) & U32_MAX and slo32 < 0 <= shi32:
                s32_min = max(s32_min, slo32)
                s32_max = min(s32_max, shi32)
            if ((smin >> 32) + 1) & U32_MAX == (smax >> 32) & U32_MAX and sslo < 0 <= sshi:
                s32_min = max(s32_min, sslo)
                s32_max = min(s32_max, sshi)
            # __reg32_deduce_bounds, second half: s32 and u32 from each other.
            a = u32_min - ((u32_min & _BIT31) << 1)
            b = u32_max - ((u32_max & _BIT31) << 1)
            if a <= b:
                s32_min = max(s32_min, a)
                s32_max = min(s32_max, b)
            a, b = s32_min & U32_MAX, s32_max & U32_MAX
            if a <= b:
                u32_min = max(a, u32_min)
                u32_max = min(b, u32_max)
            elif u32_max < a:
                s32_min = u32_min - ((u32_min & _BIT31) << 1)
                u32_max = min(u32_max, b)
            elif b < u32_min:
                s32_max = u32_max - ((u32_max & _BIT31) << 1)
                u32_min = max(u32_min, a)
            # __reg64_deduce_bounds.
            a = umin - ((umin & _BIT63) << 1)
            b = umax - ((umax & _BIT63) << 1)
            if a <= b:
                smin = max(smin, a)
                smax = min(smax, b)
            a, b = smin & U64_MAX, smax & U64_MAX
            if a <= b:
                umin = max(a, umin)
                umax = min(b, umax)
            elif umax < a:
                smin = umin - ((umin & _BIT63) << 1)
                umax = min(umax, b)
            elif b < umin:
                smax = umax - ((umax & _BIT63) << 1)
                umin = max(umin, a)
            # __reg_deduce_mixed_bounds.
            umin = max(umin, (umin & _HIGH32) | u32_min)
            umax = min(umax, (umax & _HIGH32) | u32_max)
            x = (smin & _HIGH32) | u32_min
            smin = max(smin, x - ((x & _BIT63) << 1))
            x = (smax & _HIGH32) | u32_max
            smax = min(smax, x - ((x & _BIT63) << 1))
            if s32_min >= 0 and smin >= S32_MIN and smax <= S32_MAX:
                smin, smax = s32_min, s32_max
                umin, umax = s32_min, s32_max
                rv, rm = _range(smin, smax)
                v, m = v | rv, m & rm
                v &= ~m
            if before == (v, m, smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max):
                break
        # __reg_bound_offset: tnum bits from the u64 and u32 ranges.
        rv, rm = _range(umin, umax)
        v64, m64 = v | rv, m & rm
        v64 &= ~m64
        rv, rm = _range(u32_min, u32_max)
        v32, m32 = (v64 & U32_MAX) | rv, m64 & U32_MAX & rm
        v32 &= ~m32
        hv, hm = v64 & _HIGH32, m64 & _HIGH32
        v = hv | v32
        m = (hm | m32) & ~v
    return _new_scalar(Tnum(v, m), smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)


def _range(lo: int, hi: int) -> tuple[int, int]:
    """``tnum_range`` as ``(value, mask)``."""
    lo &= U64_MAX
    bits = (lo ^ (hi & U64_MAX)).bit_length()
    if bits > 63:
        return 0, U64_MAX
    delta = (1 << bits) - 1
    return lo & ~delta, delta


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
