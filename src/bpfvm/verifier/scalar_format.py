"""How the verifier log prints a scalar register (``print_reg_state``, ``kernel/bpf/log.c``).

A constant prints as a number: decimal within [-32768, 32767], otherwise the 64-bit pattern in
hex (``R1=42``, ``R1=-1``, ``R1=0xffffffff``). Anything else prints as
``scalar(<id>,<ranges>,var_off=(0x..; 0x..))`` where each range bound is omitted at its
extreme (``smin`` at S64_MIN, ``umax`` at U64_MAX, ...), bounds with equal values share one
``=`` chain (``smin=umin=3``) without mixing negative and non-negative signed values, and
``var_off`` is omitted when wholly unknown. Unsigned bounds print in decimal up to 65535,
signed ones within [-32768, 32767], the rest in hex; a 32-bit signed bound printed in hex is
shown as its u32 pattern, not sign-extended.
"""

from __future__ import annotations

from bpfvm.verifier.scalar_state import S32_MAX, S32_MIN, S64_MAX, S64_MIN, Scalar, u32, u64
from bpfvm.verifier.tnum import (
    SNUM_MAX_DECIMAL,
    SNUM_MIN_DECIMAL,
    U32_MAX,
    U64_MAX,
    format_snum,
    format_unum,
)


def _s32_shown(v: int) -> int:
    """The value ``print_scalar_ranges`` stores for a 32-bit signed bound."""
    return u64(v) if SNUM_MIN_DECIMAL <= v <= SNUM_MAX_DECIMAL else u32(v)


def format_scalar_ranges(s: Scalar) -> list[str]:
    """``print_scalar_ranges``: the ``name=...`` items for the bounds that are not extreme."""
    names = ["smin", "smax", "umin", "umax", "smin32", "smax32", "umin32", "umax32"]
    vals = [u64(s.smin), u64(s.smax), s.umin, s.umax]
    vals += [_s32_shown(s.s32_min), _s32_shown(s.s32_max), s.u32_min, s.u32_max]
    omit = [s.smin == S64_MIN, s.smax == S64_MAX, s.umin == 0, s.umax == U64_MAX]
    omit += [s.s32_min == S32_MIN, s.s32_max == S32_MAX, s.u32_min == 0, s.u32_max == U32_MAX]
    negative = [name[0] == "s" and val >> 63 == 1 for name, val in zip(names, vals, strict=True)]
    items = []
    for i, name in enumerate(names):
        if omit[i]:
            continue
        chain = [name]
        for j in range(i + 2, len(names), 2):
            if omit[j] or vals[j] != vals[i] or negative[j] != negative[i]:
                continue
            omit[j] = True
            chain.append(names[j])
        text = format_snum(vals[i]) if name[0] == "s" else format_unum(vals[i])
        items.append("=".join(chain) + "=" + text)
    return items


def format_scalar(
    s: Scalar, *, reg_id: int = 0, id_delta: int | None = None, precise: bool = False
) -> str:
    """The value part of ``Rn=<value>`` for a scalar, exactly as Linux 6.18 prints it.

    ``reg_id`` adds ``id=N`` (the linked-scalar id without the ``BPF_ADD_CONST`` flag),
    ``id_delta`` the ``+off`` printed after it for ``r += const`` links, and ``precise`` the
    ``P`` prefix of a precise scalar; the caller owns those facts. The register name, the
    ``=`` and the separating spaces are the caller's too.
    """
    prefix = "P" if precise else ""
    if s.var_off.is_const():
        return prefix + format_snum(s.var_off.value)
    items = []
    if reg_id:
        items.append(f"id={reg_id}" + (f"{id_delta:+d}" if id_delta is not None else ""))
    items.extend(format_scalar_ranges(s))
    if not s.var_off.is_unknown():
        items.append(f"var_off={s.var_off}")
    return prefix + "scalar(" + ",".join(items) + ")"
