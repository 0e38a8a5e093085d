"""Tracked numbers: the kernel's bit-level abstraction of a 64-bit value (``kernel/bpf/tnum.c``).

A :class:`Tnum` is a pair ``(value, mask)`` of u64s with ``value & mask == 0``: bits set in
``mask`` are unknown, every other bit is known and equal to the bit in ``value``. It stands for
the set ``{value | x : x & ~mask == 0}``. Every operation returns a tnum containing every
concrete result of the operation applied to members of its operands (soundness); the
algorithms are the kernel's, so results are bit-for-bit the ones the kernel computes, which the
verifier log prints. The object is immutable and imports nothing else from bpfvm.

Invariants: ``0 <= value, mask < 2**64`` and ``value & mask == 0`` for every tnum built by the
constructors and operations here (the dataclass does not re-check, to stay cheap).
"""

from __future__ import annotations

from dataclasses import dataclass

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
_S64_MIN_BIT = 1 << 63
_S32_MIN_BIT = 1 << 31

# Numbers up to these print in decimal in the log, larger ones in hex (kernel/bpf/log.c).
UNUM_MAX_DECIMAL = (1 << 16) - 1
SNUM_MIN_DECIMAL = -(1 << 15)
SNUM_MAX_DECIMAL = (1 << 15) - 1


def fls64(x: int) -> int:
    """Position of the most significant set bit, 1-based; 0 for 0 (the kernel's ``fls64``)."""
    return x.bit_length()


def _sext(v: int, bits: int) -> int:
    """The low ``bits`` of ``v`` as a signed Python int."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _swab(v: int, nbytes: int) -> int:
    return int.from_bytes((v & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")


def format_unum(num: int) -> str:
    """An unsigned number as the log prints it: decimal up to 65535, else ``%#llx``
    (``verbose_unum``)."""
    return str(num) if num <= UNUM_MAX_DECIMAL else f"{num:#x}"


def format_snum(num: int) -> str:
    """A signed number (any int; taken modulo 2**64) as the log prints it: decimal within
    [-32768, 32767], else the 64-bit two's complement in ``%#llx`` (``verbose_snum``)."""
    signed = _sext(num, 64)
    if SNUM_MIN_DECIMAL <= signed <= SNUM_MAX_DECIMAL:
        return str(signed)
    return f"{num & U64_MAX:#x}"


@dataclass(frozen=True, slots=True)
class Tnum:
    """A tracked number (``struct tnum``): known bits in ``value``, unknown bits in ``mask``."""

    value: int
    mask: int

    # --- constructors -------------------------------------------------------------------------

    @staticmethod
    def const(v: int) -> Tnum:
        """The single value ``v`` (taken modulo 2**64) (``tnum_const``)."""
        return Tnum(v & U64_MAX, 0)

    @staticmethod
    def unknown() -> Tnum:
        """Any 64-bit value (``tnum_unknown``)."""
        return _UNKNOWN

    @staticmethod
    def range(lo: int, hi: int) -> Tnum:
        """The smallest tnum holding ``[lo, hi]`` as u64s: common high bits known, the rest
        unknown (``tnum_range``)."""
        lo &= U64_MAX
        hi &= U64_MAX
        bits = fls64(lo ^ hi)
        if bits > 63:
            return _UNKNOWN
        delta = (1 << bits) - 1
        return Tnum(lo & ~delta, delta)

    # --- shifts ---------------------------------------------------------------------------------

    def lshift(self, n: int) -> Tnum:
        """``tnum_lshift``: shift left by ``n`` (< 64), dropping bits above 63."""
        return Tnum((self.value << n) & U64_MAX, (self.mask << n) & U64_MAX)

    def rshift(self, n: int) -> Tnum:
        """``tnum_rshift``: logical shift right by ``n`` (< 64)."""
        return Tnum(self.value >> n, self.mask >> n)

    def arshift(self, n: int, bits: int) -> Tnum:
        """``tnum_arshift``: arithmetic shift right of the low ``bits`` (32 or 64) by ``n``;
        the 32-bit form yields a zero-extended 32-bit result. An unknown sign bit stays
        unknown in every bit it is copied into."""
        if bits == 32:
            return Tnum(
                (_sext(self.value, 32) >> n) & U32_MAX, (_sext(self.mask, 32) >> n) & U32_MAX
            )
        return Tnum((_sext(self.value, 64) >> n) & U64_MAX, (_sext(self.mask, 64) >> n) & U64_MAX)

    # --- arithmetic -----------------------------------------------------------------------------

    def add(self, o: Tnum) -> Tnum:
        """``tnum_add``: bits that may receive a different carry become unknown."""
        sm = self.mask + o.mask
        sv = self.value + o.value
        sigma = (sm + sv) & U64_MAX
        sv &= U64_MAX
        mu = (sigma ^ sv) | self.mask | o.mask
        return Tnum(sv & ~mu, mu)

    def sub(self, o: Tnum) -> Tnum:
        """``tnum_sub``: bits that may receive a different borrow become unknown."""
        dv = (self.value - o.value) & U64_MAX
        alpha = (dv + self.mask) & U64_MAX
        beta = (dv - o.mask) & U64_MAX
        mu = (alpha ^ beta) | self.mask | o.mask
        return Tnum(dv & ~mu, mu)

    def neg(self) -> Tnum:
        """``tnum_neg``: ``0 - self``."""
        return _ZERO.sub(self)

    def mul(self, o: Tnum) -> Tnum:
        """``tnum_mul`` (Linux 6.18): long multiplication over the bits of ``self``; a known 1
        adds the shifted multiplicand, an unknown bit takes the union of adding and not
        adding it."""
        a, b = self, o
        acc = _ZERO
        while a.value or a.mask:
            if a.value & 1:
                acc = acc.add(b)
            elif a.mask & 1:
                acc = acc.union(acc.add(b))
            a = a.rshift(1)
            b = b.lshift(1)
        return acc

    # --- bitwise --------------------------------------------------------------------------------

    def and_(self, o: Tnum) -> Tnum:
        """``tnum_and``."""
        v = self.value & o.value
        return Tnum(v, (self.value | self.mask) & (o.value | o.mask) & ~v)

    def or_(self, o: Tnum) -> Tnum:
        """``tnum_or``."""
        v = self.value | o.value
        return Tnum(v, (self.mask | o.mask) & ~v)

    def xor(self, o: Tnum) -> Tnum:
        """``tnum_xor``."""
        mu = self.mask | o.mask
        return Tnum((self.value ^ o.value) & ~mu, mu)

    def bswap16(self) -> Tnum:
        """``tnum_bswap16``: swap the two low bytes, clearing the rest."""
        return Tnum(_swab(self.value, 2), _swab(self.mask, 2))

    def bswap32(self) -> Tnum:
        """``tnum_bswap32``: swap the four low bytes, clearing the rest."""
        return Tnum(_swab(self.value, 4), _swab(self.mask, 4))

    def bswap64(self) -> Tnum:
        """``tnum_bswap64``: reverse all eight bytes."""
        return Tnum(_swab(self.value, 8), _swab(self.mask, 8))

    # --- lattice --------------------------------------------------------------------------------

    def intersect(self, o: Tnum) -> Tnum:
        """``tnum_intersect``: values in both; where the operands disagree on a known bit the
        result claims a known 1 (the intersection is then empty anyway)."""
        v = self.value | o.value
        mu = self.mask & o.mask
        return Tnum(v & ~mu, mu)

    def union(self, o: Tnum) -> Tnum:
        """``tnum_union``: values in either; bits the operands disagree on become unknown."""
        mu = (self.value ^ o.value) | self.mask | o.mask
        return Tnum(self.value & o.value & ~mu, mu)

    def overlap(self, o: Tnum) -> bool:
        """``tnum_overlap``: whether the two sets may share a member (no known bit differs)."""
        mu = ~self.mask & ~o.mask & U64_MAX
        return (self.value & mu) == (o.value & mu)

    def contains(self, o: Tnum) -> bool:
        """``tnum_in``: whether every member of ``o`` is a member of ``self``."""
        if o.mask & ~self.mask:
            return False
        return self.value == o.value & ~self.mask

    def contains_value(self, v: int) -> bool:
        """Whether the concrete u64 ``v`` is a member."""
        return (v & ~self.mask & U64_MAX) == self.value

    def step(self, z: int) -> int:
        """``tnum_step``: the smallest member greater than ``z``; the largest member when ``z``
        is at or above it, the smallest when ``z`` is below it."""
        tmax = self.value | self.mask
        if z >= tmax:
            return tmax
        if z < self.value:
            return self.value
        d = z - self.value
        carry_mask = (1 << fls64(d & ~self.mask)) - 1
        filled = (d | carry_mask | ~self.mask) & U64_MAX
        return self.value | ((filled + 1) & self.mask)

    # --- predicates -----------------------------------------------------------------------------

    def is_const(self) -> bool:
        """``tnum_is_const``."""
        return self.mask == 0

    def equals_const(self, v: int) -> bool:
        """``tnum_equals_const``."""
        return self.mask == 0 and self.value == v & U64_MAX

    def is_unknown(self) -> bool:
        """``tnum_is_unknown``: every bit unknown."""
        return self.mask == U64_MAX

    def is_aligned(self, size: int) -> bool:
        """``tnum_is_aligned``: every member is a multiple of ``size`` (a power of two; 0 is
        always aligned)."""
        if not size:
            return True
        return not ((self.value | self.mask) & (size - 1))

    # --- sizes and subregisters -----------------------------------------------------------------

    def cast(self, size: int) -> Tnum:
        """``tnum_cast``: keep the low ``size`` bytes."""
        keep = (1 << (size * 8)) - 1
        return Tnum(self.value & keep, self.mask & keep)

    def subreg(self) -> Tnum:
        """``tnum_subreg``: the low 32 bits."""
        return Tnum(self.value & U32_MAX, self.mask & U32_MAX)

    def clear_subreg(self) -> Tnum:
        """``tnum_clear_subreg``: the high 32 bits, low 32 bits known zero."""
        return Tnum(self.value & ~U32_MAX & U64_MAX, self.mask & ~U32_MAX & U64_MAX)

    def with_subreg(self, o: Tnum) -> Tnum:
        """``tnum_with_subreg``: high 32 bits of ``self``, low 32 bits of ``o``."""
        return self.clear_subreg().or_(o.subreg())

    def const_subreg(self, v: int) -> Tnum:
        """``tnum_const_subreg``: high 32 bits of ``self``, low 32 bits the constant ``v``."""
        return self.with_subreg(Tnum.const(v & U32_MAX))

    def subreg_is_const(self) -> bool:
        """``tnum_subreg_is_const``."""
        return not self.mask & U32_MAX

    # --- text -----------------------------------------------------------------------------------

    def sbin(self) -> str:
        """``tnum_sbin``: 64 characters, most significant first, ``x`` for an unknown bit."""
        return "".join(
            "x" if self.mask >> i & 1 else "1" if self.value >> i & 1 else "0"
            for i in range(63, -1, -1)
        )

    def __str__(self) -> str:
        """``tnum_strn`` (Linux 6.18, kernel/bpf/log.c): a constant as a number (decimal up to
        65535), otherwise ``(0x<value>; 0x<mask>)``."""
        if self.mask == 0:
            return format_unum(self.value)
        return f"({self.value:#x}; {self.mask:#x})"


_UNKNOWN = Tnum(0, U64_MAX)
_ZERO = Tnum(0, 0)
