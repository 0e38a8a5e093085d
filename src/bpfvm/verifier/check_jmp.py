"""Conditional jumps (verifier.c: ``check_cond_jmp_op``, ``is_branch_taken``,
``reg_set_min_max``, ``mark_ptr_or_null_regs``, ``try_match_pkt_pointers``,
``find_good_pkt_pointers``, ``collect_linked_regs``/``sync_linked_regs``).

When the outcome is known (``branch_taken`` of the scalar domain, or a non-NULL pointer
compared with 0, or packet pointers already known past the end) only that successor is walked
and the compared scalars become precise. Otherwise the jump target is pushed as a new branch
and both states are refined: scalar bounds, NULL checks of ``*_or_null`` pointers (all copies
sharing the id), and packet ranges from comparisons with ``pkt_end``.
"""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import JmpOp
from bpfvm.program.uapi import MapType
from bpfvm.verifier.env import SRC_OP, Env, check_reg_arg, push_stack_hook
from bpfvm.verifier.errors import EINVAL, reject
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.scalar import (
    Scalar,
    branch_taken,
    flip_jmp,
    linked_scalar_delta,
    refine_cond,
    reg_bounds_sync,
)
from bpfvm.verifier.state import (
    BPF_ADD_CONST,
    BPF_ADD_CONST32,
    BPF_REG_FP,
    CONST_PTR_TO_MAP,
    MEM_RDONLY,
    PTR_MAYBE_NULL,
    PTR_TO_BTF_ID,
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
    PTR_TO_XDP_SOCK,
    PTR_TRUSTED,
    PTR_UNTRUSTED,
    SCALAR_VALUE,
    RegState,
    VerifierState,
    frame_insn_idx,
)

AT_PKT_END = -1
BEYOND_PKT_END = -2
MAX_PACKET_OFF = 0xFFFF
LINKED_REGS_MAX = 6
INSN_F_DST_REG_STACK = 1 << 10
INSN_F_SRC_REG_STACK = 1 << 11
_PKT_ANY = (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END)
_NOT_NULL_BASES = frozenset(
    {PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY, PTR_TO_SOCK_COMMON,
     CONST_PTR_TO_MAP}
)  # fmt: skip


def reg_not_null(reg: RegState) -> bool:
    """``reg_not_null``."""
    t = reg.type
    if t & PTR_MAYBE_NULL:
        return False
    base = t & 0xFF
    return (
        base in _NOT_NULL_BASES
        or (base == PTR_TO_BTF_ID and bool(t & PTR_TRUSTED))
        or (base == PTR_TO_MEM and not t & PTR_UNTRUSTED)
    )


def _pkt_branch_taken(dst: RegState, src: RegState, op: int) -> int:
    """``is_pkt_ptr_branch_taken``."""
    if src.type == PTR_TO_PACKET_END:
        pkt = dst
    elif dst.type == PTR_TO_PACKET_END:
        pkt = src
        op = flip_jmp(JmpOp(op))
    else:
        return -1
    if pkt.range >= 0:
        return -1
    if op in (JmpOp.JLE, JmpOp.JGT):  # pkt <= pkt_end, pkt > pkt_end
        if pkt.range == BEYOND_PKT_END:
            return int(op == JmpOp.JGT)
    elif op in (JmpOp.JLT, JmpOp.JGE) and pkt.range in (BEYOND_PKT_END, AT_PKT_END):
        return int(op == JmpOp.JGE)
    return -1


def is_branch_taken(r1: RegState, r2: RegState, op: int, is32: bool, same: bool) -> int:
    """``is_branch_taken``: 1 taken, 0 not taken, -1 unknown."""
    if r1.type in _PKT_ANY and r2.type in _PKT_ANY and not is32:
        return _pkt_branch_taken(r1, r2, op)
    if r1.type != SCALAR_VALUE or r2.type != SCALAR_VALUE:
        if not _const(r2, is32):
            op = flip_jmp(JmpOp(op))
            r1, r2 = r2, r1
        if not _const(r2, is32) or not reg_not_null(r1):
            return -1
        if r2.s.reg_const_value(is32) != 0:
            return -1
        if op == JmpOp.JEQ:
            return 0
        if op == JmpOp.JNE:
            return 1
        return -1
    return branch_taken(JmpOp(op), r1.s, r2.s, is32)


def _const(r: RegState, is32: bool) -> bool:
    return r.type == SCALAR_VALUE and r.s.is_reg_const(is32)


def check_cond_jmp_op(env: Env, insn: Insn) -> None:
    """``check_cond_jmp_op``; leaves ``env.insn_idx`` on the instruction before the successor
    the current path continues with."""
    op = insn.code & 0xF0
    if op == 0xE0:
        _may_goto(env, insn)
        return
    if op > 0xE0:
        raise reject(f"invalid BPF_JMP/JMP32 opcode {op >> 4:x}", EINVAL)
    check_reg_arg(env, insn.dst, SRC_OP)
    regs = env.regs
    dst = regs[insn.dst]
    flags = 0
    if insn.code & 8:
        if insn.imm:
            raise reject("BPF_JMP/JMP32 uses reserved fields", EINVAL)
        check_reg_arg(env, insn.src, SRC_OP)
        src = regs[insn.src]
        if src.type == PTR_TO_STACK:
            flags |= INSN_F_SRC_REG_STACK
    else:
        if insn.src:
            raise reject("BPF_JMP/JMP32 uses reserved fields", EINVAL)
        src = RegState(SCALAR_VALUE, Scalar.const(insn.imm))
    if dst.type == PTR_TO_STACK:
        flags |= INSN_F_DST_REG_STACK
    if flags:
        from bpfvm.verifier.check_stack import push_jmp_history

        push_jmp_history(env, flags)
    is32 = insn.code & 7 == 6
    same = bool(insn.code & 8) and insn.src == insn.dst
    pred = is_branch_taken(dst, src, op, is32, same)
    if pred >= 0:
        if dst.type == SCALAR_VALUE:
            mark_chain_precision(env, insn.dst)
        if insn.code & 8 and src.type == SCALAR_VALUE:
            mark_chain_precision(env, insn.src)
        if env.log.enabled:
            env.print_insn_state(env.cur, env.cur.curframe)
        if pred == 1:
            env.insn_idx += insn.off
        return
    _two_way(env, insn, op, is32, dst, src)


def _two_way(env: Env, insn: Insn, op: int, is32: bool, dst: RegState, src: RegState) -> None:
    this = env.cur
    linked: list[tuple[int, int, bool]] = []
    if insn.code & 8 and src.type == SCALAR_VALUE and src.id:
        collect_linked_regs(env, this, src.id, linked)
    if dst.type == SCALAR_VALUE and dst.id:
        collect_linked_regs(env, this, dst.id, linked)
    if len(linked) > 1:
        from bpfvm.verifier.check_stack import push_jmp_history

        push_jmp_history(env, 0, tuple(linked))
    other = push_stack_hook(env, env.insn_idx + insn.off + 1, env.insn_idx, False)
    oregs = other.frame[other.curframe].regs
    if insn.code & 8:
        _set_min_max(oregs[insn.dst], oregs[insn.src], dst, src, op, is32)
    else:
        fake_true = src.copy()
        _set_min_max(oregs[insn.dst], fake_true, dst, src, op, is32)
    if insn.code & 8 and src.type == SCALAR_VALUE and src.id:
        sync_linked_regs(this, src, linked)
        sync_linked_regs(other, oregs[insn.src], linked)
    if dst.type == SCALAR_VALUE and dst.id:
        sync_linked_regs(this, dst, linked)
        sync_linked_regs(other, oregs[insn.dst], linked)
    if (
        not is32
        and insn.code & 8
        and src.type != SCALAR_VALUE
        and dst.type != SCALAR_VALUE
        and bool(src.type & PTR_MAYBE_NULL) != bool(dst.type & PTR_MAYBE_NULL)
        and src.base != PTR_TO_BTF_ID
        and dst.base != PTR_TO_BTF_ID
    ):
        eq = oregs if op == JmpOp.JEQ else env.regs if op == JmpOp.JNE else None
        if eq is not None:
            target = insn.src if src.type & PTR_MAYBE_NULL else insn.dst
            mark_ptr_not_null_reg(env, eq[target])
    if (
        not is32
        and not insn.code & 8
        and insn.imm == 0
        and op in (JmpOp.JEQ, JmpOp.JNE)
        and dst.type & PTR_MAYBE_NULL
    ):
        mark_ptr_or_null_regs(env, this, insn.dst, op == JmpOp.JNE)
        mark_ptr_or_null_regs(env, other, insn.dst, op == JmpOp.JEQ)
    elif insn.code & 8:
        _match_pkt_pointers(insn, op, is32, dst, env.regs[insn.src], this, other)
    if env.log.enabled:
        env.print_insn_state(this, this.curframe)


def _set_min_max(
    t1: RegState, t2: RegState, f1: RegState, f2: RegState, op: int, is32: bool
) -> None:
    """``reg_set_min_max``: refine both branches' scalar operands."""
    if f1.type != SCALAR_VALUE or f2.type != SCALAR_VALUE or f1 is f2:
        return
    jop = JmpOp(op)
    f1.s, f2.s = refine_cond(jop, f1.s, f2.s, is32, negate=True)
    t1.s, t2.s = refine_cond(jop, t1.s, t2.s, is32)


def collect_linked_regs(
    env: Env, st: VerifierState, id_: int, out: list[tuple[int, int, bool]]
) -> None:
    """``collect_linked_regs``: live scalars (registers and spills) sharing ``id_``."""
    id_ &= ~BPF_ADD_CONST
    for i in range(st.curframe, -1, -1):
        live = env.info.live_regs_before[frame_insn_idx(st, i)]
        f = st.frame[i]
        for j in range(BPF_REG_FP):
            if live >> j & 1:
                _collect(out, f.regs[j], id_, i, j, True)
        for j, slot in enumerate(f.stack):
            if slot.is_spilled_reg:
                _collect(out, slot.spilled, id_, i, j, False)


def _collect(
    out: list[tuple[int, int, bool]], reg: RegState, id_: int, frameno: int, n: int, is_reg: bool
) -> None:
    if reg.type != SCALAR_VALUE or (reg.id & ~BPF_ADD_CONST) != id_:
        return
    entry = (frameno, n, is_reg)
    if entry in out:
        return
    if len(out) < LINKED_REGS_MAX:
        out.append(entry)
    else:
        reg.id = 0


def sync_linked_regs(
    st: VerifierState, known: RegState, linked: list[tuple[int, int, bool]]
) -> None:
    """``sync_linked_regs``: copy a refined scalar into the registers linked to it."""
    for frameno, n, is_reg in linked:
        f = st.frame[frameno]
        reg = f.regs[n] if is_reg else f.stack[n].spilled
        if reg.type != SCALAR_VALUE or reg is known:
            continue
        if (reg.id & ~BPF_ADD_CONST) != (known.id & ~BPF_ADD_CONST):
            continue
        if (not reg.id & BPF_ADD_CONST and not known.id & BPF_ADD_CONST) or reg.off == known.off:
            reg.assign(known)
        else:
            off, id_ = reg.off, reg.id
            delta = reg.off - known.off
            reg.assign(known)
            reg.off, reg.id = off, id_
            # a 32-bit link on either side zero-extends the result
            zext = bool((id_ | known.id) & BPF_ADD_CONST32)
            reg.s = reg_bounds_sync(linked_scalar_delta(known.s, delta, zext))


def mark_ptr_not_null_reg(env: Env, reg: RegState) -> None:
    """``mark_ptr_not_null_reg``."""
    if reg.base == PTR_TO_MAP_VALUE:
        m = env.maps[reg.map_idx]
        if m.inner is not None:
            reg.type = CONST_PTR_TO_MAP
            reg.map_idx = env.map_index(m.inner)
        elif m.type == MapType.XSKMAP:
            reg.type = PTR_TO_XDP_SOCK
        elif m.type in (MapType.SOCKMAP, MapType.SOCKHASH):
            reg.type = PTR_TO_SOCKET
        else:
            reg.type = PTR_TO_MAP_VALUE
        return
    reg.type &= ~PTR_MAYBE_NULL


def mark_ptr_or_null_regs(env: Env, st: VerifierState, regno: int, is_null: bool) -> None:
    """``mark_ptr_or_null_regs``: resolve every copy of a maybe-NULL pointer."""
    reg0 = st.frame[st.curframe].regs[regno]
    ref_obj_id, id_ = reg0.ref_obj_id, reg0.id
    if ref_obj_id and ref_obj_id == id_ and is_null:
        st.refs[:] = [r for r in st.refs if r.id != id_]
    spin_lock_maps = env.spin_lock_maps()
    for f in st.frame:
        for reg in f.regs:
            _ptr_or_null(env, reg, id_, is_null, spin_lock_maps)
        for slot in f.stack:
            if slot.is_spilled_reg:
                _ptr_or_null(env, slot.spilled, id_, is_null, spin_lock_maps)


def _ptr_or_null(env: Env, reg: RegState, id_: int, is_null: bool, lock_maps: set[int]) -> None:
    if not (reg.type & PTR_MAYBE_NULL and reg.id == id_):
        return
    s = reg.s
    if s.smin or s.smax or s.var_off.mask or s.var_off.value or reg.off:
        return
    if is_null:
        reg.type = SCALAR_VALUE
        reg.id = 0
        reg.ref_obj_id = 0
        reg.map_idx = -1
        reg.mem_size = 0
        reg.range = 0
        return
    mark_ptr_not_null_reg(env, reg)
    if not (reg.type == PTR_TO_MAP_VALUE and reg.map_idx in lock_maps):
        reg.id = 0


def _good_pkt(st: VerifierState, dst: RegState, type_: int, right_open: bool) -> None:
    """``find_good_pkt_pointers``: every copy of the pointer gets the proven range."""
    if dst.off < 0 or (dst.off == 0 and right_open):
        return
    if dst.s.umax > MAX_PACKET_OFF or dst.s.umax + dst.off > MAX_PACKET_OFF:
        return
    new_range = dst.off + (1 if right_open else 0)
    for f in st.frame:
        for reg in f.regs:
            if reg.type == type_ and reg.id == dst.id:
                reg.range = max(reg.range, new_range)
        for slot in f.stack:
            if slot.is_spilled_reg:
                reg = slot.spilled
                if reg.type == type_ and reg.id == dst.id:
                    reg.range = max(reg.range, new_range)


def _pkt_end(st: VerifierState, regno: int, range_open: bool) -> None:
    """``mark_pkt_end``."""
    reg = st.frame[st.curframe].regs[regno]
    if reg.type == PTR_TO_PACKET:
        reg.range = BEYOND_PKT_END if range_open else AT_PKT_END


def _init_pkt(reg: RegState, which: int) -> bool:
    return (
        reg.type == which
        and reg.id == 0
        and reg.off == 0
        and reg.s.var_off.mask == 0
        and reg.s.var_off.value == 0
    )


def _match_pkt_pointers(
    insn: Insn,
    op: int,
    is32: bool,
    dst: RegState,
    src: RegState,
    this: VerifierState,
    other: VerifierState,
) -> bool:
    """``try_match_pkt_pointers``."""
    if is32:
        return False
    data_lhs = (dst.type == PTR_TO_PACKET and src.type == PTR_TO_PACKET_END) or (
        dst.type == PTR_TO_PACKET_META and _init_pkt(src, PTR_TO_PACKET)
    )
    data_rhs = (dst.type == PTR_TO_PACKET_END and src.type == PTR_TO_PACKET) or (
        _init_pkt(dst, PTR_TO_PACKET) and src.type == PTR_TO_PACKET_META
    )
    if op not in (JmpOp.JGT, JmpOp.JLT, JmpOp.JGE, JmpOp.JLE) or not (data_lhs or data_rhs):
        return False
    # The branch where the packet pointer is known to be below the end gets the range; the
    # other one learns the end. Which branch that is follows the operator and the side.
    greater = op in (JmpOp.JGT, JmpOp.JGE)
    if data_lhs:
        in_range, end = (this, other) if greater else (other, this)
        reg, regno, open_range = dst, insn.dst, op in (JmpOp.JGE, JmpOp.JLT)
    else:
        in_range, end = (other, this) if greater else (this, other)
        reg, regno, open_range = src, insn.src, op in (JmpOp.JGT, JmpOp.JLE)
    _good_pkt(in_range, reg, reg.type, open_range)
    _pkt_end(end, regno, not open_range)
    return True


def _may_goto(env: Env, insn: Insn) -> None:
    """``may_goto``: the fall-through is pushed with a deeper may_goto count; the current
    path takes the jump."""
    if insn.src or insn.dst or insn.imm:
        raise reject(f"invalid may_goto imm {insn.imm}", EINVAL)
    from bpfvm.verifier.prune import find_prev_entry, widen_imprecise_scalars

    idx = env.insn_idx
    cur = env.cur
    prev = find_prev_entry(env, cur.parent, idx) if cur.parent is not None else None
    queued = push_stack_hook(env, idx + 1, idx, False)
    queued.may_goto_depth += 1
    if prev is not None:
        widen_imprecise_scalars(env, prev, queued)
    env.insn_idx += insn.off


__all__ = ["MEM_RDONLY", "check_cond_jmp_op", "is_branch_taken", "reg_not_null"]
