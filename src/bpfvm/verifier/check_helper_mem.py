"""Memory and size arguments of helper calls (verifier.c: ``check_helper_mem_access``,
``check_mem_size_reg``, ``get_constant_map_key``, ``check_reg_const_str``).

A memory argument must be readable (or, for an output buffer, writable) for its whole size in
the region it points to: stack bytes must be initialised unless the helper fills them, packet
bytes must be inside the proven range, map keys and values inside the map's sizes. A size
argument must be a bounded non-negative scalar; its upper bound is what gets checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfvm.program.model import BPF_F_RDONLY_PROG
from bpfvm.verifier.check_mem import (
    check_map_access,
    check_mem_region_access,
    check_packet_access,
)
from bpfvm.verifier.check_stack import check_stack_range_initialized
from bpfvm.verifier.env import Env
from bpfvm.verifier.errors import EACCES, EINVAL, reject
from bpfvm.verifier.log import reg_type_str
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.state import (
    MEM_RDONLY,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    SCALAR_VALUE,
    STACK_SPILL,
    STACK_ZERO,
    RegState,
)

if TYPE_CHECKING:
    from bpfvm.verifier.check_call import CallMeta

BPF_MAX_VAR_SIZ = 1 << 29


def constant_map_key(env: Env, key: RegState, key_size: int) -> int:
    """``get_constant_map_key``: the key's value when it is a known constant on the stack."""
    if key.type != PTR_TO_STACK or key.s.var_off.mask:
        return -1
    f = env.cur.frame[key.frameno]
    stack_off = key.off + _s64(key.s.var_off.value)
    slot = -stack_off - 1
    spi, off = slot // 8, slot % 8
    stype = f.stack[spi].slot_type
    zero = 0
    i = off
    while i >= 0 and stype[i] == STACK_ZERO:
        zero += 1
        i -= 1
    if zero >= key_size:
        return 0
    if not f.stack[spi].is_spilled_scalar_reg:
        return -1
    spill = 0
    i = off
    while i >= 0 and stype[i] == STACK_SPILL:
        spill += 1
        i -= 1
    sp = f.stack[spi].spilled
    if spill != key_size or sp.s.var_off.mask:
        return -1
    from bpfvm.verifier.precision import mark_chain_precision_stack

    mark_chain_precision_stack(env, key.frameno, spi)
    return _s64(sp.s.var_off.value)


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def check_helper_mem_access(
    env: Env, regno: int, size: int, write: bool, zero_ok: bool, meta: CallMeta | None
) -> None:
    """``check_helper_mem_access``."""
    reg = env.regs[regno]
    base = reg.base
    if base in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        check_packet_access(env, regno, reg.off, size, zero_ok)
    elif base == PTR_TO_MAP_KEY:
        if write:
            raise reject(f"R{regno} cannot write into {reg_type_str(reg.type)}", EACCES)
        check_mem_region_access(env, regno, reg.off, size, env.maps[reg.map_idx].key_size, False)
    elif base == PTR_TO_MAP_VALUE:
        m = env.maps[reg.map_idx]
        if write and m.map_flags & BPF_F_RDONLY_PROG:
            raise reject(
                f"write into map forbidden, value_size={m.value_size} off={reg.off} size={size}",
                EACCES,
            )
        check_map_access(env, regno, reg.off, size, zero_ok)
    elif base == PTR_TO_MEM:
        if reg.type & MEM_RDONLY and write:
            raise reject(f"R{regno} cannot write into {reg_type_str(reg.type)}", EACCES)
        check_mem_region_access(env, regno, reg.off, size, reg.mem_size, zero_ok)
    elif base == PTR_TO_STACK:
        raw = meta.raw_mode if meta is not None else None
        check_stack_range_initialized(env, regno, reg.off, size, zero_ok, write, raw)
        if raw and meta is not None and reg.s.var_off.mask == 0:
            meta.access_size = size
            meta.regno = regno
    else:
        if (
            zero_ok
            and size == 0
            and reg.type == SCALAR_VALUE
            and reg.is_const
            and (reg.const_value == 0)
        ):
            return
        raise reject(
            f"R{regno} type={reg_type_str(reg.type)} expected={reg_type_str(PTR_TO_STACK)}",
            EACCES,
        )


def check_mem_size_reg(
    env: Env, reg: RegState, regno: int, write: bool, zero_ok: bool, meta: CallMeta
) -> None:
    """``check_mem_size_reg``."""
    meta.msize_max_value = reg.s.umax
    m: CallMeta | None = meta if reg.s.var_off.mask == 0 else None
    s = reg.s
    if s.smin < 0:
        raise reject(
            f"R{regno} min value is negative, either use unsigned or 'var &= const'", EACCES
        )
    if s.umin == 0 and not zero_ok:
        raise reject(f"R{regno} invalid zero-sized read: u64=[{s.umin},{s.umax}]", EACCES)
    if s.umax >= BPF_MAX_VAR_SIZ:
        raise reject(
            f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'", EACCES
        )
    if m is None:
        meta.raw_mode = False
    check_helper_mem_access(env, regno - 1, s.umax, write, zero_ok, m)
    mark_chain_precision(env, regno)


def check_const_str(env: Env, reg: RegState, regno: int) -> None:
    """``check_reg_const_str``: a NUL-terminated string in a frozen read-only map."""
    m = env.maps[reg.map_idx]
    if reg.s.var_off.mask:
        raise reject(f"R{regno} doesn't have constant offset", EACCES)
    if not m.map_flags & BPF_F_RDONLY_PROG or m.initial is None:
        raise reject(f"R{regno} does not point to a readonly map'", EACCES)
    off = reg.off + reg.s.var_off.value
    check_map_access(env, regno, reg.off, 1, False)
    if b"\0" not in bytes(m.initial[off:]):
        raise reject("string is not zero-terminated", EINVAL)
