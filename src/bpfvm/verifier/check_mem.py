"""Loads and stores (verifier.c: ``check_load_mem``, ``check_store_reg``,
``check_mem_access``, ``check_ptr_alignment``, ``check_mem_region_access``,
``check_packet_access``, ``check_ctx_access``, ``check_map_access``).

Each pointer type has its own rule: the stack (see :mod:`bpfvm.verifier.check_stack`), the
context (the program type's ``is_valid_access`` from :mod:`bpfvm.platform`), packets (bytes
below the range proven by a ``pkt_end`` comparison), map keys and values (the map's sizes, with
variable offsets bounded by the pointer's ranges), memory regions of known size. The order of
the checks and the messages are the kernel's, so the first error reported is the kernel's.
"""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.platform.ctx_access import check_ctx_access as platform_ctx_access
from bpfvm.platform.prog_types import PacketAccess
from bpfvm.program.model import BPF_F_RDONLY_PROG
from bpfvm.verifier.check_map_ptr import check_ptr_to_map_access
from bpfvm.verifier.check_stack import (
    check_stack_access_within_bounds,
    check_stack_read,
    check_stack_write,
)
from bpfvm.verifier.env import (
    DST_OP_NO_MARK,
    SRC_OP,
    Env,
    check_reg_arg,
    mark_reg_known,
    mark_reg_unknown,
)
from bpfvm.verifier.errors import EACCES, EINVAL, reject
from bpfvm.verifier.log import reg_type_str
from bpfvm.verifier.scalar import S64_MIN, Scalar, coerce_reg_to_size, coerce_reg_to_size_sx
from bpfvm.verifier.state import (
    CONST_PTR_TO_MAP,
    MEM_RDONLY,
    NOT_INIT,
    PTR_MAYBE_NULL,
    PTR_TO_ARENA,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_CTX,
    PTR_TO_FLOW_KEYS,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON,
    PTR_TO_SOCKET,
    PTR_TO_STACK,
    PTR_TO_TCP_SOCK,
    PTR_TO_TP_BUFFER,
    PTR_TO_XDP_SOCK,
    PTR_UNTRUSTED,
    SCALAR_VALUE,
    RegState,
)
from bpfvm.verifier.tnum import Tnum

BPF_MAX_VAR_OFF = 1 << 29
BPF_F_WRONLY_PROG = 1 << 8
FLOW_KEYS_SIZE = 56
_SK_TYPES = frozenset({PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK})
_ALIGN_DESC = {
    PTR_TO_FLOW_KEYS: "flow keys ",
    PTR_TO_MAP_KEY: "key ",
    PTR_TO_MAP_VALUE: "value ",
    PTR_TO_CTX: "context ",
    PTR_TO_STACK: "stack ",
    PTR_TO_SOCKET: "sock ",
    PTR_TO_SOCK_COMMON: "sock_common ",
    PTR_TO_TCP_SOCK: "tcp_sock ",
    PTR_TO_XDP_SOCK: "xdp_sock ",
}


def check_load_mem(env: Env, insn: Insn, is_ldsx: bool) -> None:
    """``check_load_mem`` (LDX)."""
    check_reg_arg(env, insn.src, SRC_OP)
    check_reg_arg(env, insn.dst, DST_OP_NO_MARK)
    src_type = env.regs[insn.src].type
    size = _SIZE[insn.code & 0x18]
    check_mem_access(env, insn.src, insn.off, size, False, insn.dst, is_ldsx)
    save_aux_ptr_type(env, src_type, True)


def check_store_reg(env: Env, insn: Insn) -> None:
    """``check_store_reg`` (STX)."""
    check_reg_arg(env, insn.src, SRC_OP)
    check_reg_arg(env, insn.dst, SRC_OP)
    dst_type = env.regs[insn.dst].type
    size = _SIZE[insn.code & 0x18]
    check_mem_access(env, insn.dst, insn.off, size, True, insn.src, False)
    save_aux_ptr_type(env, dst_type, False)


def check_store_imm(env: Env, insn: Insn) -> None:
    """The ST branch of ``do_check_insn``."""
    if insn.code & 0xE0 != 0x60 or insn.src != 0:
        raise reject("BPF_ST uses reserved fields", EINVAL)
    check_reg_arg(env, insn.dst, SRC_OP)
    dst_type = env.regs[insn.dst].type
    size = _SIZE[insn.code & 0x18]
    check_mem_access(env, insn.dst, insn.off, size, True, -1, False)
    save_aux_ptr_type(env, dst_type, False)


_SIZE = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
_MISMATCH_OK = frozenset(
    {PTR_TO_CTX, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK,
     PTR_TO_BTF_ID, PTR_TO_ARENA}
)  # fmt: skip


def save_aux_ptr_type(env: Env, type_: int, allow_trust_mismatch: bool) -> None:
    """``save_aux_ptr_type``: one load/store must always access the same kind of pointer."""
    aux = env.aux[env.insn_idx]
    prev = aux.ptr_type
    if prev == NOT_INIT:
        aux.ptr_type = type_
        return
    if type_ == prev:
        return
    if (type_ & 0xFF) not in _MISMATCH_OK and (prev & 0xFF) not in _MISMATCH_OK:
        return
    mem_or_btf = (PTR_TO_MEM, PTR_TO_BTF_ID)
    if allow_trust_mismatch and (type_ & 0xFF) in mem_or_btf and (prev & 0xFF) in mem_or_btf:
        merged = PTR_TO_MEM if PTR_TO_MEM in (type_ & 0xFF, prev & 0xFF) else PTR_TO_BTF_ID
        merged |= (type_ | prev) & (PTR_UNTRUSTED | MEM_RDONLY)
        aux.ptr_type = merged
        return
    raise reject("same insn cannot be used with different pointers", EINVAL)


def check_ptr_alignment(env: Env, reg: RegState, off: int, size: int, strict: bool = False) -> None:
    """``check_ptr_alignment`` for an unaligned-friendly host: stack accesses are strict, others
    only when ``strict`` (``strict_alignment_once``: atomics)."""
    if size == 1:
        return
    t = reg.type
    if t == PTR_TO_STACK:
        reg_off = reg.s.var_off.add(Tnum.const(reg.off + off))
        if reg_off.value & (size - 1):
            raise reject(
                f"misaligned stack access off {reg.s.var_off}+{reg.off}+{off} size {size}",
                EACCES,
            )
        return
    if not strict or t & 0xFF == PTR_TO_ARENA:
        return
    if t in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        ip_align = 2  # NET_IP_ALIGN as the kernel forces it for strict packet alignment
        reg_off = reg.s.var_off.add(Tnum.const(ip_align + reg.off + off))
        if (reg_off.value | reg_off.mask) & (size - 1):
            raise reject(
                f"misaligned packet access off {ip_align}+{reg.s.var_off}+{reg.off}+{off} "
                f"size {size}",
                EACCES,
            )
        return
    desc = "ptr " if t & 0xFF == PTR_TO_BTF_ID else _ALIGN_DESC.get(t, "")
    reg_off = reg.s.var_off.add(Tnum.const(reg.off + off))
    if (reg_off.value | reg_off.mask) & (size - 1):
        raise reject(
            f"misaligned {desc}access off {reg.s.var_off}+{reg.off}+{off} size {size}", EACCES
        )


def check_mem_access(
    env: Env,
    regno: int,
    off: int,
    size: int,
    write: bool,
    value_regno: int,
    is_ldsx: bool,
    strict_alignment_once: bool = False,
) -> None:
    """``check_mem_access``."""
    regs = env.regs
    reg = regs[regno]
    check_ptr_alignment(env, reg, off, size, strict_alignment_once)
    off += reg.off
    t = reg.type
    base = t & 0xFF
    if t == PTR_TO_MAP_KEY:
        if write:
            raise reject(f"write to change key R{regno} not allowed", EACCES)
        check_mem_region_access(env, regno, off, size, env.maps[reg.map_idx].key_size, False)
        if value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == PTR_TO_MAP_VALUE:
        _map_value_access(env, reg, regno, off, size, write, value_regno, is_ldsx)
    elif base == PTR_TO_MEM:
        _mem_access(env, reg, regno, off, size, write, value_regno)
    elif t == PTR_TO_CTX:
        _ctx_access(env, reg, regno, off, size, write, value_regno)
    elif t == PTR_TO_STACK:
        check_stack_access_within_bounds(env, regno, off, size, write)
        if write:
            check_stack_write(env, regno, off, size, value_regno)
        else:
            check_stack_read(env, regno, off, size, value_regno)
    elif t in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if write and not _may_write_packet(env):
            raise reject("cannot write into packet", EACCES)
        check_packet_access(env, regno, off, size, False)
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == PTR_TO_FLOW_KEYS:
        if off < 0 or off + size > FLOW_KEYS_SIZE:
            raise reject(f"invalid access to flow keys off={off} size={size}", EACCES)
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t in _SK_TYPES:
        if write:
            raise reject(f"R{regno} cannot write into {reg_type_str(t)}", EACCES)
        check_ptr_off_reg(env, reg, regno, False)
        _sock_access(env, reg, regno, off, size)
        if value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t in (PTR_TO_TP_BUFFER, PTR_TO_ARENA):
        if not write and value_regno >= 0:
            mark_reg_unknown(regs[value_regno])
    elif t == CONST_PTR_TO_MAP:
        check_ptr_to_map_access(env, regs, regno, off, size, write, value_regno)
    elif base in (PTR_TO_BTF_ID, PTR_TO_BUF) and not t & PTR_MAYBE_NULL:
        raise reject(f"R{regno} invalid mem access '{reg_type_str(t)}'", EACCES)
    else:
        raise reject(f"R{regno} invalid mem access '{reg_type_str(t)}'", EACCES)
    if size < 8 and value_regno >= 0 and not write:
        dst = regs[value_regno]
        if dst.type == SCALAR_VALUE:
            dst.s = (
                coerce_reg_to_size_sx(dst.s, size) if is_ldsx else coerce_reg_to_size(dst.s, size)
            )


def _may_write_packet(env: Env) -> bool:
    spec = env.spec
    return spec is not None and spec.packet is PacketAccess.READ_WRITE


def _map_value_access(
    env: Env,
    reg: RegState,
    regno: int,
    off: int,
    size: int,
    write: bool,
    value_regno: int,
    is_ldsx: bool,
) -> None:
    m = env.maps[reg.map_idx]
    flags = m.map_flags
    if write and flags & BPF_F_RDONLY_PROG:
        raise reject(
            f"write into map forbidden, value_size={m.value_size} off={off} size={size}", EACCES
        )
    if not write and flags & BPF_F_WRONLY_PROG:
        raise reject(
            f"read from map forbidden, value_size={m.value_size} off={off} size={size}", EACCES
        )
    check_map_access(env, regno, off, size, False)
    if write or value_regno < 0:
        return
    dst = env.regs[value_regno]
    if reg.s.var_off.mask == 0 and flags & BPF_F_RDONLY_PROG and m.initial is not None:
        moff = off + reg.s.var_off.value
        raw = bytes(m.initial[moff : moff + size]).ljust(size, b"\0")
        val = int.from_bytes(raw, "little", signed=is_ldsx and size < 8)
        dst.type = SCALAR_VALUE
        mark_reg_known(dst, val)
    else:
        mark_reg_unknown(dst)


def check_map_access(env: Env, regno: int, off: int, size: int, zero_size_allowed: bool) -> None:
    """``check_map_access``: bounds, then the value's special fields (spin locks, timers)."""
    reg = env.regs[regno]
    m = env.maps[reg.map_idx]
    check_mem_region_access(env, regno, off, size, m.value_size, zero_size_allowed)
    for field_off, field_size, name in special_fields(env, reg.map_idx):
        p = reg.s
        lo, hi = p.smin + off, p.umax + off + size
        if hi > field_off and lo < field_off + field_size:
            raise reject(f"{name} cannot be accessed directly by load/store", EACCES)


def special_fields(env: Env, map_idx: int) -> list[tuple[int, int, str]]:
    """The map value's ``btf_record`` fields: (offset, size, kernel name)."""
    from bpfvm.verifier.btf_fields import map_special_fields

    return map_special_fields(env, map_idx)


def _mem_access(
    env: Env, reg: RegState, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    t = reg.type
    if t & PTR_MAYBE_NULL:
        raise reject(f"R{regno} invalid mem access '{reg_type_str(t)}'", EACCES)
    rdonly = bool(t & MEM_RDONLY)
    if write and rdonly:
        raise reject(f"R{regno} cannot write into {reg_type_str(t)}", EACCES)
    if not (rdonly and t & PTR_UNTRUSTED):
        check_mem_region_access(env, regno, off, size, reg.mem_size, False)
    if value_regno >= 0 and (not write or rdonly):
        mark_reg_unknown(env.regs[value_regno])


def _ctx_access(
    env: Env, reg: RegState, regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    check_ptr_off_reg(env, reg, regno, False)
    try:
        acc = platform_ctx_access(env.prog_type, off, size, write, env.penv)
    except (KeyError, ValueError):
        acc = None
    if acc is None:
        raise reject(f"invalid bpf_context access off={off} size={size}", EACCES)
    env.aux[env.insn_idx].ctx_field_size = acc.field_size if acc.narrow else 0
    if write or value_regno < 0:
        return
    dst = env.regs[value_regno]
    rt = acc.reg_type.value
    if rt == SCALAR_VALUE:
        mark_reg_unknown(dst)
    else:
        mark_reg_known(dst, 0)
        if rt & PTR_MAYBE_NULL:
            dst.id = env.new_id()
    dst.type = rt


def _sock_access(env: Env, reg: RegState, regno: int, off: int, size: int) -> None:
    """``check_sock_access`` (reads; writes are refused before)."""
    from bpfvm.platform.access_info import AccessInfo
    from bpfvm.platform.ctx_access_sock import sock_pointer_valid_access

    if reg.s.smin < 0:
        raise reject(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) "
            "check.",
            EACCES,
        )
    info = AccessInfo()
    kind = {PTR_TO_SOCK_COMMON: "sock_common", PTR_TO_SOCKET: "sock",
            PTR_TO_TCP_SOCK: "tcp_sock", PTR_TO_XDP_SOCK: "xdp_sock"}[reg.type]  # fmt: skip
    if not sock_pointer_valid_access(kind, off, size, info):
        t = reg.type
        raise reject(f"R{regno} invalid {reg_type_str(t)} access off={off} size={size}", EACCES)
    env.aux[env.insn_idx].ctx_field_size = info.field_size


def check_ptr_off_reg(env: Env, reg: RegState, regno: int, fixed_off_ok: bool) -> None:
    """``__check_ptr_off_reg``: the pointer must be unmodified (or only by a constant)."""
    name = reg_type_str(reg.type)
    if reg.off < 0:
        raise reject(f"negative offset {name} ptr R{regno} off={reg.off} disallowed", EACCES)
    if not fixed_off_ok and reg.off:
        raise reject(
            f"dereference of modified {name} ptr R{regno} off={reg.off} disallowed", EACCES
        )
    vo = reg.s.var_off
    if vo.mask or vo.value:
        raise reject(f"variable {name} access var_off={vo} disallowed", EACCES)


def _mem_error(reg: RegState, regno: int, off: int, size: int, mem_size: int) -> str:
    t = reg.type
    off = _s32(off)
    if t == PTR_TO_MAP_KEY:
        return f"invalid access to map key, key_size={mem_size} off={off} size={size}"
    if t == PTR_TO_MAP_VALUE:
        return f"invalid access to map value, value_size={mem_size} off={off} size={size}"
    if t in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END):
        return (
            f"invalid access to packet, off={off} size={size}, "
            f"R{regno}(id={reg.id},off={off},r={mem_size})"
        )
    return f"invalid access to memory, mem_size={mem_size} off={off} size={size}"


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _mem_ok(off: int, size: int, mem_size: int, zero_ok: bool) -> bool:
    off = _s32(off)
    return off >= 0 and (size > 0 or (size == 0 and zero_ok)) and off + size <= mem_size


def check_mem_region_access(
    env: Env, regno: int, off: int, size: int, mem_size: int, zero_size_allowed: bool
) -> None:
    """``check_mem_region_access``: the access stays inside ``[0, mem_size)`` for every value
    of the pointer's variable offset."""
    reg = env.regs[regno]
    s = reg.s
    if s.smin < 0 and (s.smin == S64_MIN or _s32(off + s.smin) != off + s.smin or s.smin + off < 0):
        raise reject(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) "
            "check.",
            EACCES,
        )
    if not _mem_ok(s.smin + off, size, mem_size, zero_size_allowed):
        env.verbose(_mem_error(reg, regno, s.smin + off, size, mem_size) + "\n")
        raise reject(f"R{regno} min value is outside of the allowed memory range", EACCES)
    if s.umax >= BPF_MAX_VAR_OFF:
        raise reject(
            f"R{regno} unbounded memory access, make sure to bounds check any such access",
            EACCES,
        )
    if not _mem_ok(s.umax + off, size, mem_size, zero_size_allowed):
        env.verbose(_mem_error(reg, regno, s.umax + off, size, mem_size) + "\n")
        raise reject(f"R{regno} max value is outside of the allowed memory range", EACCES)


def check_packet_access(env: Env, regno: int, off: int, size: int, zero_size_allowed: bool) -> None:
    """``check_packet_access``: the fixed offset must be below the proven range."""
    reg = env.regs[regno]
    if reg.s.smin < 0:
        raise reject(
            f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) "
            "check.",
            EACCES,
        )
    if reg.range < 0 or not _mem_ok(off, size, reg.range, zero_size_allowed):
        if reg.range >= 0:
            env.verbose(_mem_error(reg, regno, off, size, reg.range) + "\n")
        raise reject(f"R{regno} offset is outside of the packet", EACCES)


__all__ = [
    "Scalar",
    "check_load_mem",
    "check_map_access",
    "check_mem_access",
    "check_mem_region_access",
    "check_packet_access",
    "check_ptr_off_reg",
    "check_store_imm",
    "check_store_reg",
    "save_aux_ptr_type",
]
