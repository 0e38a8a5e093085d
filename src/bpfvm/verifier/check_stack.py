"""Stack accesses (verifier.c: ``check_stack_access_within_bounds``,
``check_stack_write_fixed_off``/``_var_off``, ``check_stack_read_fixed_off``/``_var_off``,
``check_stack_range_initialized``, ``mark_reg_stack_read``).

Each 8-byte slot has 8 slot-type bytes and a spilled register: an aligned 8-byte store of a
register *spills* it (its whole state is kept and restored by an aligned fill), narrower or
unaligned stores make the bytes STACK_MISC (or STACK_ZERO for a known zero). A privileged
loader may read uninitialised stack (``allow_uninit_stack``), which yields unknown scalars.
Every full 8-byte write and every read is reported to the stack liveness analysis.
"""

from __future__ import annotations

from bpfvm.verifier.check_alu import assign_scalar_id_before_mov
from bpfvm.verifier.env import Env, mark_reg_known, mark_reg_unknown
from bpfvm.verifier.errors import EACCES, EFAULT, EINVAL, reject
from bpfvm.verifier.fixup_facts import check_fastcall_stack_contract
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.scalar_state import s64
from bpfvm.verifier.state import (
    BPF_REG_SIZE,
    MAX_BPF_STACK,
    NOT_INIT,
    SCALAR_VALUE,
    STACK_DYNPTR,
    STACK_INVALID,
    STACK_IRQ_FLAG,
    STACK_ITER,
    STACK_MISC,
    STACK_SPILL,
    STACK_ZERO,
    FuncState,
    JmpHistoryEntry,
    RegState,
)

BPF_MAX_VAR_OFF = 1 << 29
INSN_F_STACK_ACCESS = 1 << 3  # frameno in bits 0-2, spi in bits 4-9 (insn_stack_access_flags)
_SPECIAL = (STACK_SPILL, STACK_DYNPTR, STACK_ITER, STACK_IRQ_FLAG)


def stack_access_flags(frameno: int, spi: int) -> int:
    """``insn_stack_access_flags``."""
    return INSN_F_STACK_ACCESS | (spi << 4) | frameno


def push_jmp_history(env: Env, flags: int, linked: tuple[tuple[int, int, bool], ...] = ()) -> None:
    """``push_jmp_history``: remember this instruction on the current path (merging the flags
    of one instruction into one entry)."""
    st = env.cur
    hist = st.jmp_history
    if env.cur_hist_ent is not None:
        ent = env.cur_hist_ent
        ent.flags |= flags
        if linked:
            ent.linked_regs = linked
        return
    ent = JmpHistoryEntry(env.insn_idx, st.last_insn_idx, flags, linked)
    hist.append(ent)
    env.cur_hist_ent = ent


def frame_of(env: Env, reg: RegState) -> FuncState:
    """``func(env, reg)``: the frame a stack pointer points into."""
    return env.cur.frame[reg.frameno]


def check_stack_access_within_bounds(
    env: Env, regno: int, off: int, size: int, write: bool
) -> None:
    """``check_stack_access_within_bounds``; grows the frame's stack to cover the access."""
    reg = env.regs[regno]
    state = frame_of(env, reg)
    extra = " write to" if write else " read from"
    s = reg.s
    if s.var_off.mask == 0:
        v = s.var_off.value
        v = s64(v)
        min_off = v + off
        max_off = min_off + size
    else:
        if s.smax >= BPF_MAX_VAR_OFF or s.smin <= -BPF_MAX_VAR_OFF:
            raise reject(f"invalid unbounded variable-offset{extra} stack R{regno}", EACCES)
        min_off = s.smin + off
        max_off = s.smax + off + size
    # check_stack_slot_within_bounds refuses the start (EACCES); an end above the frame
    # pointer or a negative size is EINVAL
    slot_bad = min_off < -MAX_BPF_STACK or min_off > -1
    if slot_bad or max_off > 0 or size < 0:
        err = EACCES if slot_bad else EINVAL
        if s.var_off.mask == 0:
            raise reject(f"invalid{extra} stack R{regno} off={off} size={size}", err)
        raise reject(
            f"invalid variable-offset{extra} stack R{regno} var_off={s.var_off} off={off} "
            f"size={size}",
            err,
        )
    check_fastcall_stack_contract(env, state, env.insn_idx, min_off)
    state.grow_stack(-min_off)
    sub = env.info.subprogs[state.subprogno]
    sub.stack_depth = max(sub.stack_depth, -min_off)


def check_stack_write(env: Env, ptr_regno: int, off: int, size: int, value_regno: int) -> None:
    """``check_stack_write``."""
    reg = env.regs[ptr_regno]
    state = frame_of(env, reg)
    if reg.s.var_off.mask == 0:
        _write_fixed_off(env, state, off + reg.s.var_off.value, size, value_regno)
    else:
        _write_var_off(env, state, reg, off, size, value_regno)


def _is_spillable(t: int) -> bool:
    return t not in (SCALAR_VALUE, NOT_INIT) and (t & 0xFF) not in (14, 21)


def _write_fixed_off(env: Env, state: FuncState, off: int, size: int, value_regno: int) -> None:
    off = s64(off)
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    cur = env.frame
    reg = cur.regs[value_regno] if value_regno >= 0 else None
    insn = env.info.slots[env.insn_idx]
    assert insn is not None
    is_st = insn.code & 7 == 2
    flags = stack_access_flags(state.frameno, spi)
    stack = state.stack[spi]
    if not off % BPF_REG_SIZE and size == BPF_REG_SIZE:
        env.liveness.mark_write(state.frameno, 1 << spi)
    env.mark_stack_slot_scratched(spi)
    if reg is not None and not off % BPF_REG_SIZE and reg.type == SCALAR_VALUE:
        fits = reg.s.umax.bit_length() <= 8 * size
        if fits:
            assign_scalar_id_before_mov(env, reg)
        save_register_state(stack, reg, size)
        if not fits:
            stack.spilled.id = 0
    elif reg is None and not off % BPF_REG_SIZE and is_st:
        tmp = RegState(SCALAR_VALUE)
        mark_reg_known(tmp, insn.imm)
        save_register_state(stack, tmp, size)
    elif reg is not None and _is_spillable(reg.type):
        if size != BPF_REG_SIZE:
            raise reject("invalid size of register spill", EACCES)
        if state is not cur and reg.base == 6:
            raise reject("cannot spill pointers to stack into stack frame of the caller", EINVAL)
        save_register_state(stack, reg, size)
    else:
        stype = stack.slot_type
        stack.spilled.type = NOT_INIT
        if stype[BPF_REG_SIZE - 1] in _SPECIAL:
            for i in range(BPF_REG_SIZE):
                if stype[i] != STACK_INVALID:
                    stype[i] = STACK_MISC
        new = STACK_MISC
        zero_reg = reg is not None and reg.type == SCALAR_VALUE and reg.is_const
        if (zero_reg and reg is not None and reg.const_value == 0) or (
            reg is None and is_st and insn.imm == 0
        ):
            mark_chain_precision(env, value_regno)
            new = STACK_ZERO
        for i in range(size):
            stype[(slot - i) % BPF_REG_SIZE] = new
        flags = 0
    if flags:
        push_jmp_history(env, flags)


def save_register_state(stack_slot: object, reg: RegState, size: int) -> None:
    """``save_register_state``: spill ``reg`` into the top ``size`` bytes of the slot."""
    from bpfvm.verifier.state import StackSlot

    assert isinstance(stack_slot, StackSlot)
    stack_slot.spilled.assign(reg)
    stype = stack_slot.slot_type
    i = BPF_REG_SIZE
    while i > BPF_REG_SIZE - size:
        stype[i - 1] = STACK_SPILL
        i -= 1
    while i:
        if stype[i - 1] not in (STACK_ZERO, STACK_INVALID):
            stype[i - 1] = STACK_MISC
        i -= 1


def _write_var_off(
    env: Env, state: FuncState, ptr: RegState, off: int, size: int, value_regno: int
) -> None:
    """``check_stack_write_var_off``: every byte that may be written loses its spill."""
    insn = env.info.slots[env.insn_idx]
    assert insn is not None
    value = env.regs[value_regno] if value_regno >= 0 else None
    writing_zero = (
        value is not None
        and value.type == SCALAR_VALUE
        and value.s.var_off.mask == 0
        and value.s.var_off.value == 0
    ) or (value is None and insn.code & 7 == 2 and insn.imm == 0)
    min_off = ptr.s.smin + off
    max_off = ptr.s.smax + off + size
    zero_used = False
    for i in range(min_off, max_off):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        stack = state.stack[spi]
        idx = slot % BPF_REG_SIZE
        env.mark_stack_slot_scratched(spi)
        stype = stack.slot_type
        if writing_zero and stype[idx] == STACK_SPILL and stack.is_spilled_scalar_reg:
            sp = stack.spilled
            if sp.s.var_off.mask == 0 and sp.s.var_off.value == 0:
                zero_used = True
                continue
        stack.spilled.type = NOT_INIT
        new = STACK_MISC
        if writing_zero and stype[idx] == STACK_ZERO:
            new = STACK_ZERO
            zero_used = True
        stype[idx] = new
    if zero_used:
        mark_chain_precision(env, value_regno)


def check_stack_read(env: Env, ptr_regno: int, off: int, size: int, dst_regno: int) -> None:
    """``check_stack_read``."""
    reg = env.regs[ptr_regno]
    state = frame_of(env, reg)
    var_off = reg.s.var_off.mask != 0
    if dst_regno < 0 and var_off:
        raise reject(
            "variable offset stack pointer cannot be passed into helper function; "
            f"var_off={reg.s.var_off} off={off} size={size}",
            EACCES,
        )
    if not var_off:
        v = reg.s.var_off.value
        _read_fixed_off(env, state, off + s64(v), size, dst_regno)
    else:
        check_stack_range_initialized(env, ptr_regno, off, size, False, False, None)
        min_off = reg.s.smin + off
        max_off = reg.s.smax + off
        mark_reg_stack_read(env, state, min_off, max_off + size, dst_regno)


def _read_fixed_off(env: Env, state: FuncState, off: int, size: int, dst_regno: int) -> None:
    cur = env.frame
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    stack = state.stack[spi]
    stype = stack.slot_type
    reg = stack.spilled
    flags = stack_access_flags(state.frameno, spi)
    env.mark_stack_slot_scratched(spi)
    env.liveness.mark_read(state.frameno, env.insn_idx, 1 << spi)
    if stack.is_spilled_reg:
        spill_size = 1
        i = BPF_REG_SIZE - 1
        while i > 0 and stype[i - 1] == STACK_SPILL:
            spill_size += 1
            i -= 1
        if size != BPF_REG_SIZE or spill_size != BPF_REG_SIZE:
            if reg.type != SCALAR_VALUE:
                raise reject("invalid size of register fill", EACCES)
            if dst_regno < 0:
                return
            if size <= spill_size and not off % BPF_REG_SIZE:
                if size == 4 and spill_size == 4 and reg.s.umax.bit_length() <= 32:
                    assign_scalar_id_before_mov(env, reg)
                dst = cur.regs[dst_regno]
                dst.assign(reg)
                if reg.s.umax.bit_length() > size * 8:
                    dst.id = 0
            else:
                flags = _narrow_fill(env, stype, slot, size, off, reg, cur.regs[dst_regno], flags)
        elif dst_regno >= 0:
            # a full fill copies the slot as it is: 6.18 gives an id-less unknown scalar
            # (one widened at a callback's return) no id here (checked on the running kernel)
            cur.regs[dst_regno].assign(reg)
    else:
        for i in range(size):
            t = stype[(slot - i) % BPF_REG_SIZE]
            if t in (STACK_MISC, STACK_ZERO, STACK_INVALID):
                continue
            raise reject(f"invalid read from stack off {off}+{i} size {size}", EACCES)
        if dst_regno >= 0:
            mark_reg_stack_read(env, state, off, off + size, dst_regno)
        flags = 0
    if flags:
        push_jmp_history(env, flags)


def _narrow_fill(
    env: Env,
    stype: list[int],
    slot: int,
    size: int,
    off: int,
    reg: RegState,
    dst: RegState,
    flags: int,
) -> int:
    spill_cnt = zero_cnt = 0
    for i in range(size):
        t = stype[(slot - i) % BPF_REG_SIZE]
        if t == STACK_SPILL:
            spill_cnt += 1
        elif t == STACK_ZERO:
            zero_cnt += 1
        elif t not in (STACK_MISC, STACK_INVALID):
            raise reject(f"invalid read from stack off {off}+{i} size {size}", EACCES)
    if spill_cnt == size and reg.s.var_off.mask == 0 and reg.s.var_off.value == 0:
        mark_const_zero(dst)
        return flags
    if zero_cnt == size:
        mark_const_zero(dst)
    else:
        mark_reg_unknown(dst)
    return 0


def mark_const_zero(reg: RegState) -> None:
    """``__mark_reg_const_zero`` (privileged: not precise)."""
    mark_reg_unknown(reg)
    mark_reg_known(reg, 0)


def mark_reg_stack_read(
    env: Env, ptr_state: FuncState, min_off: int, max_off: int, dst_regno: int
) -> None:
    """``mark_reg_stack_read``: all-zero bytes give 0, anything else an unknown scalar."""
    zeros = 0
    for i in range(min_off, max_off):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        env.mark_stack_slot_scratched(spi)
        if ptr_state.stack[spi].slot_type[slot % BPF_REG_SIZE] != STACK_ZERO:
            break
        zeros += 1
    dst = env.regs[dst_regno]
    if zeros == max_off - min_off:
        mark_const_zero(dst)
    else:
        mark_reg_unknown(dst)


def check_stack_range_initialized(
    env: Env,
    regno: int,
    off: int,
    access_size: int,
    zero_size_allowed: bool,
    write: bool,
    raw_mode: bool | None,
) -> None:
    """``check_stack_range_initialized``: a helper may read (or, ``write``, clobber) these
    bytes. ``raw_mode`` True: the helper fills the memory (no initialisation needed)."""
    reg = env.regs[regno]
    state = frame_of(env, reg)
    if access_size == 0 and not zero_size_allowed:
        raise reject("invalid zero-sized read", EACCES)
    check_stack_access_within_bounds(env, regno, off, access_size, write)
    s = reg.s
    if s.var_off.mask == 0:
        v = s.var_off.value
        min_off = max_off = s64(v) + off
    else:
        raw_mode = False
        min_off = s.smin + off
        max_off = s.smax + off
    if raw_mode:
        for i in range(min_off, max_off + access_size):
            stack_off = -i - 1
            if state.allocated_stack <= stack_off:
                continue
            if state.stack[stack_off // 8].slot_type[stack_off % 8] == STACK_DYNPTR:
                raise reject(f"potential write to dynptr at off={i} disallowed", EACCES)
        return
    for i in range(min_off, max_off + access_size):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        if state.allocated_stack <= slot:
            raise reject("allocated_stack too small", EFAULT)
        stack = state.stack[spi]
        idx = slot % BPF_REG_SIZE
        t = stack.slot_type[idx]
        if t == STACK_MISC:
            pass
        elif t in (STACK_ZERO, STACK_INVALID):
            if write:
                stack.slot_type[idx] = STACK_MISC
        elif stack.is_spilled_reg:
            if write:
                mark_reg_unknown(stack.spilled)
                for j in range(BPF_REG_SIZE):
                    if stack.slot_type[j] != STACK_INVALID:
                        stack.slot_type[j] = STACK_MISC
        else:
            if s.var_off.mask == 0:
                raise reject(
                    f"invalid read from stack R{regno} off {min_off}+{i - min_off} size "
                    f"{access_size}",
                    EACCES,
                )
            raise reject(
                f"invalid read from stack R{regno} var_off {s.var_off}+{i - min_off} size "
                f"{access_size}",
                EACCES,
            )
        env.liveness.mark_read(reg.frameno, env.insn_idx, 1 << spi)
