"""ALU instructions (verifier.c: ``check_alu_op``, ``adjust_reg_min_max_vals``,
``adjust_ptr_min_max_vals``, ``check_reg_sane_offset``).

Scalars go through the scalar domain (:mod:`bpfvm.verifier.scalar`); pointer arithmetic keeps
the pointer's type, accumulates constants into the fixed offset ``off`` and variable parts
into the pointer's own ``var_off``/bounds, with the kernel's restrictions and messages. A
privileged loader (CAP_BPF + CAP_PERFMON) bypasses Spectre sanitation, so none is modelled.
"""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp
from bpfvm.verifier.env import (
    DST_OP,
    DST_OP_NO_MARK,
    SRC_OP,
    Env,
    check_reg_arg,
    mark_reg_const,
    mark_reg_unknown,
)
from bpfvm.verifier.errors import EACCES, EINVAL, reject
from bpfvm.verifier.log import ALU_OP_TEXT as ALU_STR
from bpfvm.verifier.log import reg_type_str, snum
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.scalar import (
    S32_MAX,
    S32_MIN,
    S64_MAX,
    S64_MIN,
    Scalar,
    fork_scalar,
    reg_bounds_sync,
    scalar_alu,
    scalar_end,
    scalar_movsx,
    scalar_neg,
)
from bpfvm.verifier.state import (
    BPF_ADD_CONST,
    BPF_ADD_CONST32,
    BPF_ADD_CONST64,
    CONST_PTR_TO_DYNPTR,
    CONST_PTR_TO_MAP,
    PTR_MAYBE_NULL,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_CTX,
    PTR_TO_FLOW_KEYS,
    PTR_TO_FUNC,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    PTR_TO_TP_BUFFER,
    PTR_UNTRUSTED,
    SCALAR_VALUE,
    RegState,
)
from bpfvm.verifier.tnum import U32_MAX, U64_MAX, Tnum

BPF_MAX_VAR_OFF = 1 << 29

_PTR_ARITH_OK = frozenset({
    PTR_TO_CTX, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY, PTR_TO_STACK, PTR_TO_PACKET_META,
    PTR_TO_PACKET, PTR_TO_TP_BUFFER, PTR_TO_BTF_ID, PTR_TO_MEM, PTR_TO_BUF, PTR_TO_FUNC,
    CONST_PTR_TO_DYNPTR,
})  # fmt: skip
U32_MASK = 0xFFFFFFFF


def check_alu_op(env: Env, insn: Insn) -> None:
    """``check_alu_op``."""
    op = insn.code & 0xF0
    alu64 = insn.code & 7 == 7
    if op in (0x80, 0xD0):
        _check_neg_end(env, insn, op, alu64)
    elif op == 0xB0:
        _check_mov(env, insn, alu64)
    elif op > 0xD0:
        raise reject(f"invalid BPF_ALU opcode {op:x}", EINVAL)
    else:
        _check_binary(env, insn, op, alu64)


def _check_neg_end(env: Env, insn: Insn, op: int, alu64: bool) -> None:
    if op == 0x80:
        if insn.code & 8 or insn.src or insn.off or insn.imm:
            raise reject("BPF_NEG uses reserved fields", EINVAL)
    elif insn.src or insn.off or insn.imm not in (16, 32, 64) or (alu64 and insn.code & 8):
        raise reject("BPF_END uses reserved fields", EINVAL)
    check_reg_arg(env, insn.dst, SRC_OP)
    dst = env.regs[insn.dst]
    if dst.type == SCALAR_VALUE:
        check_reg_arg(env, insn.dst, DST_OP_NO_MARK)
        if op == 0x80:
            # the negation starts from a known zero (``__mark_reg_known``): no link survives
            dst.id, dst.off = 0, 0
            dst.s = scalar_neg(dst.s, not alu64)
        else:
            # a swap or truncation (everything but le64 on a little-endian host) breaks links
            if alu64 or insn.code & 8 or insn.imm in (16, 32):
                dst.id = 0
            dst.s = scalar_end(dst.s, insn.imm, alu64=alu64, to_be=bool(insn.code & 8))
    else:
        check_reg_arg(env, insn.dst, DST_OP)


def _check_mov(env: Env, insn: Insn, alu64: bool) -> None:
    regs = env.regs
    if insn.code & 8:
        if not alu64:
            if insn.off not in (0, 8, 16) or insn.imm:
                raise reject("BPF_MOV uses reserved fields", EINVAL)
        elif insn.off == 1:
            if insn.imm not in (1, 1 << 16):
                raise reject(
                    "addr_space_cast insn can only convert between address space 1 and 0",
                    EINVAL,
                )
            raise reject(
                "addr_space_cast insn can only be used in a program that has an associated arena",
                EINVAL,
            )
        elif insn.off not in (0, 8, 16, 32) or insn.imm:
            raise reject("BPF_MOV uses reserved fields", EINVAL)
        check_reg_arg(env, insn.src, SRC_OP)
    elif insn.src or insn.off:
        raise reject("BPF_MOV uses reserved fields", EINVAL)
    check_reg_arg(env, insn.dst, DST_OP_NO_MARK)
    dst = regs[insn.dst]
    if not insn.code & 8:
        mark_reg_const(dst, insn.imm if alu64 else insn.imm & U32_MASK)
        return
    src = regs[insn.src]
    if alu64:
        _mov64_reg(env, insn, dst, src)
    else:
        _mov32_reg(env, insn, dst, src)


def assign_scalar_id_before_mov(env: Env, src: RegState) -> None:
    """``assign_scalar_id_before_mov``: give a copied unknown scalar an id linking the copies."""
    if src.type != SCALAR_VALUE:
        return
    if src.id & BPF_ADD_CONST:
        src.id = 0
        src.off = 0
    if not src.id and src.s.var_off.mask:
        src.id = env.new_id()


def _mov64_reg(env: Env, insn: Insn, dst: RegState, src: RegState) -> None:
    if insn.off == 0:
        assign_scalar_id_before_mov(env, src)
        dst.assign(src)
        return
    if src.type != SCALAR_VALUE:
        mark_reg_unknown(dst)
        return
    no_sext = src.s.umax < (1 << (insn.off - 1))
    if no_sext:
        assign_scalar_id_before_mov(env, src)
    dst.assign(src)
    if not no_sext:
        dst.id = 0
    dst.s = scalar_movsx(src.s, insn.off >> 3, False)


def _mov32_reg(env: Env, insn: Insn, dst: RegState, src: RegState) -> None:
    if src.type != SCALAR_VALUE:
        mark_reg_unknown(dst)
        # zext + sync of an unknown scalar leaves it [0, U32_MAX]
        dst.s = scalar_alu(AluOp.MOV, Scalar.unknown(), Scalar.unknown(), True)
        return
    if insn.off == 0:
        u32_src = src.s.umax.bit_length() <= 32
        if u32_src:
            assign_scalar_id_before_mov(env, src)
        dst.assign(src)
        if not u32_src:
            dst.id = 0
        dst.s = scalar_alu(AluOp.MOV, src.s, src.s, True)
        return
    no_sext = src.s.umax < (1 << (insn.off - 1))
    if no_sext:
        assign_scalar_id_before_mov(env, src)
    dst.assign(src)
    if not no_sext:
        dst.id = 0
    dst.s = scalar_movsx(src.s, insn.off >> 3, True)


def _check_binary(env: Env, insn: Insn, op: int, alu64: bool) -> None:
    if insn.code & 8:
        if insn.imm or insn.off not in (0, 1) or (insn.off == 1 and op not in (0x30, 0x90)):
            raise reject("BPF_ALU uses reserved fields", EINVAL)
        check_reg_arg(env, insn.src, SRC_OP)
    elif insn.src or insn.off not in (0, 1) or (insn.off == 1 and op not in (0x30, 0x90)):
        raise reject("BPF_ALU uses reserved fields", EINVAL)
    check_reg_arg(env, insn.dst, SRC_OP)
    if op in (0x30, 0x90) and not insn.code & 8 and insn.imm == 0:
        raise reject("div by zero", EINVAL)
    if op in (0x60, 0x70, 0xC0) and not insn.code & 8:
        size = 64 if alu64 else 32
        if insn.imm < 0 or insn.imm >= size:
            raise reject(f"invalid shift {insn.imm}", EINVAL)
    check_reg_arg(env, insn.dst, DST_OP_NO_MARK)
    adjust_reg_min_max_vals(env, insn, op, alu64)


def adjust_reg_min_max_vals(env: Env, insn: Insn, op: int, alu64: bool) -> None:
    """``adjust_reg_min_max_vals``."""
    regs = env.regs
    dst = regs[insn.dst]
    ptr = dst if dst.type != SCALAR_VALUE else None
    if insn.code & 8:
        src = regs[insn.src]
        if src.type != SCALAR_VALUE:
            if dst.type != SCALAR_VALUE:
                if op == 0x10:
                    mark_reg_unknown(dst)
                    return
                raise reject(f"R{insn.dst} pointer {ALU_STR[op >> 4]} pointer prohibited", EACCES)
            mark_chain_precision(env, insn.dst)
            adjust_ptr_min_max_vals(env, insn, op, alu64, src, dst)
            return
        if ptr is not None:
            mark_chain_precision(env, insn.src)
            adjust_ptr_min_max_vals(env, insn, op, alu64, dst, src)
            return
        if dst.precise:
            mark_chain_precision(env, insn.src)
        src_s = src.s
    else:
        src_s = Scalar.const(insn.imm)
        if ptr is not None:
            off = RegState(SCALAR_VALUE, src_s)
            adjust_ptr_min_max_vals(env, insn, op, alu64, ptr, off)
            return
    _adjust_scalar(env, insn, op, alu64, dst, src_s)


def _adjust_scalar(
    env: Env, insn: Insn, op: int, alu64: bool, dst: RegState, src_s: Scalar
) -> None:
    aop = AluOp(op)
    forked = fork_scalar(aop, dst.s, src_s) if op in (0x40, 0x50) else None
    if forked is not None:
        from bpfvm.verifier.main import push_stack

        branch = push_stack(env, env.insn_idx, env.insn_idx, False)
        other = branch.frame[branch.curframe].regs[insn.dst]
        other.s = forked[1]
        other.id = 0
        dst.s = forked[0]
        dst.id = 0
    d = dst.s
    if not d.var_off.mask and not src_s.var_off.mask and op in _CONST_OPS:
        val = _const_alu(op, d.var_off.value, src_s.var_off.value, alu64)
        dst.s = Scalar.const(val) if val is not None else Scalar.unknown()
    else:
        dst.s = scalar_alu(aop, d, src_s, not alu64)
    _update_linked_id(op, alu64, dst, src_s, d.umax)


_CONST_OPS = frozenset({0x00, 0x10, 0x20, 0x40, 0x50, 0xA0, 0x60, 0x70, 0xC0})


def _const_alu(op: int, a: int, b: int, alu64: bool) -> int | None:
    """The result of an ALU op on two known values (what the domain computes for constants);
    None when the kernel would not track it (a shift by too much)."""
    bits = 64 if alu64 else 32
    mask = (1 << bits) - 1
    shift_ok = b < bits  # the kernel bounds a shift by the source's full 64-bit value
    a &= mask
    b &= mask
    if op == 0x00:
        return (a + b) & mask
    if op == 0x10:
        return (a - b) & mask
    if op == 0x20:
        return (a * b) & mask
    if op == 0x40:
        return a | b
    if op == 0x50:
        return a & b
    if op == 0xA0:
        return a ^ b
    if not shift_ok:
        return None
    if op == 0x60:
        return (a << b) & mask
    if op == 0x70:
        return a >> b
    signed = a - (1 << bits) if a >> (bits - 1) else a
    return (signed >> b) & mask


def _update_linked_id(op: int, alu64: bool, dst: RegState, src_s: Scalar, dst_umax: int) -> None:
    """Remember ``rX = rY +/- const`` so a later bound on rY refines rX: ``BPF_ADD_CONST64``,
    or ``BPF_ADD_CONST32`` for a 32-bit add/sub on a register whose upper half was zero
    (``dst_umax``: before the operation); the delta is an s32 in ``off``."""
    dst_id, dst.id, dst.off = dst.id, 0, 0
    if op not in (0x00, 0x10) or not dst_id or dst_id & BPF_ADD_CONST:
        return
    t = src_s.var_off if alu64 else src_s.var_off.subreg()
    if not t.is_const():
        return
    if alu64:
        off = t.value - (1 << 64) if t.value >> 63 else t.value
        if off < S32_MIN or off > S32_MAX:
            return
    else:
        if dst_umax > U32_MAX:
            return
        off = t.value - (1 << 32) if t.value >> 31 else t.value
    if op == 0x10:
        if off == S32_MIN:  # its negation does not fit
            return
        off = -off
    dst.id = dst_id | (BPF_ADD_CONST64 if alu64 else BPF_ADD_CONST32)
    dst.off = off


def _check_reg_sane_offset(reg: RegState, type_: int) -> None:
    """``check_reg_sane_offset``; its caller turns a refusal into EINVAL."""
    s = reg.s
    name = reg_type_str(type_)
    if s.var_off.mask == 0:
        val = s.var_off.value
        sval = val - (1 << 64) if val >> 63 else val
        if sval >= BPF_MAX_VAR_OFF or sval <= -BPF_MAX_VAR_OFF:
            raise reject(f"math between {name} pointer and {sval} is not allowed", EINVAL)
    if reg.off >= BPF_MAX_VAR_OFF or reg.off <= -BPF_MAX_VAR_OFF:
        raise reject(f"{name} pointer offset {reg.off} is not allowed", EINVAL)
    if s.smin == S64_MIN:
        raise reject(
            f"math between {name} pointer and register with unbounded min value is not allowed",
            EINVAL,
        )
    if s.smin >= BPF_MAX_VAR_OFF or s.smin <= -BPF_MAX_VAR_OFF:
        raise reject(f"value {s.smin} makes {name} pointer be out of bounds", EINVAL)


def adjust_ptr_min_max_vals(
    env: Env, insn: Insn, op: int, alu64: bool, ptr: RegState, off_reg: RegState
) -> None:
    """``adjust_ptr_min_max_vals``: ``dst = ptr op off_reg`` for a pointer operand."""
    dst = env.regs[insn.dst]
    o = off_reg.s
    known = o.var_off.mask == 0
    if (known and (o.smin != o.smax or o.umin != o.umax)) or o.smin > o.smax or o.umin > o.umax:
        mark_reg_unknown(dst)
        return
    if not alu64:
        if op == 0x10:
            mark_reg_unknown(dst)
            return
        raise reject(f"R{insn.dst} 32-bit pointer arithmetic prohibited", EACCES)
    ptype = ptr.type
    base = ptype & 0xFF
    if ptype & PTR_MAYBE_NULL:
        raise reject(
            f"R{insn.dst} pointer arithmetic on {reg_type_str(ptype)} prohibited, "
            "null-check it first",
            EACCES,
        )
    if base == PTR_TO_MEM and ptype & PTR_UNTRUSTED:
        return
    if base not in _PTR_ARITH_OK:
        ok = (base == PTR_TO_FLOW_KEYS and known) or (
            base in (PTR_TO_FLOW_KEYS, CONST_PTR_TO_MAP) and known and o.smin == 0 and op == 0
        )
        if not ok:
            raise reject(
                f"R{insn.dst} pointer arithmetic on {reg_type_str(ptype)} prohibited", EACCES
            )
    ptr_copy = ptr.copy()
    _check_reg_sane_offset(off_reg, ptype)
    _check_reg_sane_offset(ptr_copy, ptype)
    if op == 0x00:
        _ptr_add(env, dst, ptr_copy, o, known)
    elif op == 0x10:
        if dst is off_reg:
            raise reject(f"R{insn.dst} tried to subtract pointer from scalar", EACCES)
        if ptype == PTR_TO_STACK:
            raise reject(f"R{insn.dst} subtraction from stack pointer prohibited", EACCES)
        _ptr_sub(env, dst, ptr_copy, o, known)
    elif op in (0x40, 0x50, 0xA0):
        raise reject(
            f"R{insn.dst} bitwise operator {ALU_STR[op >> 4]} on pointer prohibited", EACCES
        )
    else:
        raise reject(
            f"R{insn.dst} pointer arithmetic with {ALU_STR[op >> 4]} operator prohibited", EACCES
        )
    _check_reg_sane_offset(dst, ptype)
    dst.s = reg_bounds_sync(dst.s)


def _ptr_base(dst: RegState, ptr: RegState) -> None:
    """Take the pointer's type, id and type-specific fields (``dst_reg->raw = ptr_reg->raw``)."""
    dst.type = ptr.type
    dst.id = ptr.id
    dst.ref_obj_id = ptr.ref_obj_id
    dst.range = ptr.range
    dst.map_idx = ptr.map_idx
    dst.mem_size = ptr.mem_size
    dst.subprogno = ptr.subprogno
    dst.btf_name = ptr.btf_name
    dst.frameno = ptr.frameno
    dst.precise = ptr.precise


def _unbounded32(var_off: Tnum, smin: int, smax: int, umin: int, umax: int) -> Scalar:
    return Scalar(var_off, smin, smax, umin, umax, -(1 << 31), (1 << 31) - 1, 0, U32_MASK)


def _s32ok(v: int) -> bool:
    return -(1 << 31) <= v <= (1 << 31) - 1


def _ptr_add(env: Env, dst: RegState, ptr: RegState, o: Scalar, known: bool) -> None:
    _ptr_base(dst, ptr)
    p = ptr.s
    if known and _s32ok(ptr.off + o.smin):
        dst.s = _unbounded32(p.var_off, p.smin, p.smax, p.umin, p.umax)
        dst.off = ptr.off + o.smin
        return
    smin, smax = p.smin + o.smin, p.smax + o.smax
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        smin, smax = S64_MIN, S64_MAX
    umin, umax = p.umin + o.umin, p.umax + o.umax
    if umin > U64_MAX or umax > U64_MAX:
        umin, umax = 0, U64_MAX
    dst.s = _unbounded32(p.var_off.add(o.var_off), smin, smax, umin, umax)
    dst.off = ptr.off
    if ptr.type in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        dst.id = env.new_id()
        dst.range = 0


def _ptr_sub(env: Env, dst: RegState, ptr: RegState, o: Scalar, known: bool) -> None:
    _ptr_base(dst, ptr)
    p = ptr.s
    if known and _s32ok(ptr.off - o.smin):
        dst.s = _unbounded32(p.var_off, p.smin, p.smax, p.umin, p.umax)
        dst.off = ptr.off - o.smin
        return
    smin, smax = p.smin - o.smax, p.smax - o.smin
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        smin, smax = S64_MIN, S64_MAX
    if p.umin < o.umax:
        umin, umax = 0, U64_MAX
    else:
        umin, umax = p.umin - o.umax, p.umax - o.umin
    dst.s = _unbounded32(p.var_off.sub(o.var_off), smin, smax, umin, umax)
    dst.off = ptr.off
    if ptr.type in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        dst.id = env.new_id()
        if o.smin < 0:
            dst.range = 0


__all__ = ["adjust_ptr_min_max_vals", "assign_scalar_id_before_mov", "check_alu_op", "snum"]
