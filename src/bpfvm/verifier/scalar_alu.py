"""Transfer functions of the ALU on scalars (``adjust_scalar_min_max_vals`` and helpers).

Each binary operation computes the new tnum and the new 32- and 64-bit ranges of the
destination separately, with the kernel's rules (Linux 6.18.y); a 32-bit operation then
zero-extends its result into the 64-bit bounds (``zext_32_to_64``) and every result is synced
(``reg_bounds_sync``). Operations the kernel does not track give a completely unknown scalar:
division and modulo (signed or not), and shifts whose amount is not a known constant below the
operation width. For ``BPF_K`` forms the caller passes ``Scalar.const(imm)`` with ``imm``
sign-extended to 64 bits, as the kernel's fake source register holds it, for ALU32 too.

Not modelled here, because they are properties of the register rather than of its value: the
scalar id (``reg->id``, cleared by every ALU op but 64-bit ``+= const``), precision marks, and
the state fork of :func:`fork_scalar`, which the caller must apply before :func:`scalar_alu`.
"""

from __future__ import annotations

from bpfvm.isa.opcodes import AluOp
from bpfvm.verifier.scalar_state import (
    S32_MAX,
    S32_MIN,
    S64_MAX,
    S64_MIN,
    Reg,
    Scalar,
    coerce_reg,
    coerce_reg_to_size_sx,
    coerce_subreg_to_size_sx,
    mark_reg32_known,
    mark_reg32_unbounded,
    mark_reg64_unbounded,
    mark_reg_known,
    mark_reg_unbounded,
    s32,
    s64,
    sync_reg,
    u32,
    u64,
    update_reg32_bounds,
    update_reg_bounds,
    zext_reg,
)
from bpfvm.verifier.tnum import U32_MAX, U64_MAX, Tnum

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
