"""Precision tracking (verifier.c: ``mark_chain_precision``, ``__mark_chain_precision``,
``backtrack_insn``, ``propagate_precision``, ``mark_all_scalars_precise``).

Pruning ignores the value of a scalar unless it is *precise*: some safety check depended on it
(a memory offset, a helper's size argument, a branch decided by it, the return value...). When
that happens the verifier walks the current path backwards (through the jump history of each
state, then its parent state) with a set of registers and stack slots whose values matter,
translating them through each instruction (``r1 = r2`` moves the need from r1 to r2, a fill
moves it to the stack slot, a constant load satisfies it), and marks them precise in every
checkpoint it passes. Checkpoints created afterwards start imprecise again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfvm.isa.insn import Insn
from bpfvm.verifier.errors import VerifierBug
from bpfvm.verifier.state import (
    BPF_REG_FP,
    BPF_REG_SIZE,
    MAX_CALL_FRAMES,
    SCALAR_VALUE,
    JmpHistoryEntry,
    VerifierState,
)

if TYPE_CHECKING:
    from bpfvm.verifier.env import Env

REGMASK_ARGS = 0b111110
INSN_F_STACK_ACCESS = 1 << 3
INSN_F_DST_REG_STACK = 1 << 10
INSN_F_SRC_REG_STACK = 1 << 11


class Unsupported(Exception):
    """``-ENOTSUPP`` from ``backtrack_insn``: fall back to marking everything precise."""


class Backtrack:
    """``struct backtrack_state``: per-frame register and stack-slot masks."""

    __slots__ = ("frame", "reg_masks", "stack_masks")

    def __init__(self, frame: int) -> None:
        self.frame = frame
        self.reg_masks = [0] * MAX_CALL_FRAMES
        self.stack_masks = [0] * MAX_CALL_FRAMES

    def empty(self) -> bool:
        rm, sm = self.reg_masks, self.stack_masks
        if self.frame == 0:
            return not rm[0] and not sm[0]
        return not any(rm[: self.frame + 1]) and not any(sm[: self.frame + 1])

    def reg_set(self, r: int) -> bool:
        return bool(self.reg_masks[self.frame] >> r & 1)

    def set_reg(self, r: int, frame: int | None = None) -> None:
        self.reg_masks[self.frame if frame is None else frame] |= 1 << r

    def clear_reg(self, r: int, frame: int | None = None) -> None:
        self.reg_masks[self.frame if frame is None else frame] &= ~(1 << r)

    def set_slot(self, frame: int, spi: int) -> None:
        self.stack_masks[frame] |= 1 << spi

    def slot_set(self, frame: int, spi: int) -> bool:
        return bool(self.stack_masks[frame] >> spi & 1)

    def clear_slot(self, frame: int, spi: int) -> None:
        self.stack_masks[frame] &= ~(1 << spi)


def fmt_reg_mask(mask: int) -> str:
    return ",".join(f"r{i}" for i in range(32) if mask >> i & 1)


def fmt_stack_mask(mask: int) -> str:
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


def mark_chain_precision(env: Env, regno: int) -> None:
    """``mark_chain_precision``: the value of ``regno`` matters for safety."""
    if regno < 0:
        return
    bt = Backtrack(env.cur.curframe)
    bt.set_reg(regno)
    _mark_chain(env, env.cur, bt)


def mark_chain_precision_stack(env: Env, frameno: int, spi: int) -> None:
    """``mark_chain_precision_batch`` for one stack slot."""
    bt = Backtrack(env.cur.curframe)
    bt.set_slot(frameno, spi)
    _mark_chain(env, env.cur, bt)


def propagate_precision(env: Env, old: VerifierState, cur: VerifierState) -> None:
    """``propagate_precision``: precise scalars of an equivalent explored state become precise
    in the current path too."""
    bt = Backtrack(cur.curframe)
    for fr in range(old.curframe, -1, -1):
        f = old.frame[fr]
        names = []
        for i in range(BPF_REG_FP):
            r = f.regs[i]
            if r.type == SCALAR_VALUE and r.precise:
                names.append(f"r{i}")
                bt.set_reg(i, fr)
        for spi, slot in enumerate(f.stack):
            if slot.is_spilled_reg and slot.spilled.type == SCALAR_VALUE and slot.spilled.precise:
                names.append(f"fp{-(spi + 1) * BPF_REG_SIZE}")
                bt.set_slot(fr, spi)
        if names and env.log.level2:
            env.verbose(f"frame {fr}: propagating " + ",".join(names) + "\n")
    _mark_chain(env, cur, bt)


def _mark_chain(env: Env, start: VerifierState, bt: Backtrack) -> None:
    """``__mark_chain_precision``."""
    if bt.empty():
        return
    try:
        _walk(env, start, bt)
    except Unsupported:
        mark_all_scalars_precise(env, start)


def _walk(env: Env, start: VerifierState, bt: Backtrack) -> None:
    st: VerifierState | None = start
    first_idx = start.first_insn_idx
    last_idx = start.insn_idx
    subseq_idx = -1
    skip_first = True
    log2 = env.log.level2
    fast = not env.log.level
    slots = env.info.slots
    n = len(slots)
    while st is not None:
        if log2:
            env.verbose(
                f"mark_precise: frame{bt.frame}: last_idx {last_idx} first_idx {first_idx} "
                f"subseq_idx {subseq_idx} \n"
            )
        if last_idx < 0:
            _func_entry(st, bt)
            return
        hist = st.jmp_history
        history = len(hist)
        i = last_idx
        first = st.first_insn_idx
        while True:
            if skip_first:
                skip_first = False
            else:
                ent = hist[history - 1] if history and hist[history - 1].idx == i else None
                if fast and ent is None and bt.frame == 0 and _fast_backtrack(slots[i], bt):
                    pass
                else:
                    backtrack_insn(env, i, subseq_idx, ent, bt)
            if bt.empty():
                return
            subseq_idx = i
            if i == first and (history == 0 or (history == 1 and hist[0].idx == i)):
                break
            if history and hist[history - 1].idx == i:
                i = hist[history - 1].prev_idx
                history -= 1
            else:
                i -= 1
            if i < 0 or i >= n:
                raise VerifierBug(f"backtracking idx {i}")
        st = st.parent
        if st is None:
            break
        _mark_parent(env, st, bt)
        if bt.empty():
            return
        subseq_idx = first_idx
        last_idx = st.last_insn_idx
        first_idx = st.first_insn_idx
    if not bt.empty():
        mark_all_scalars_precise(env, start)


def _fast_backtrack(insn: Insn | None, bt: Backtrack) -> bool:
    """``backtrack_insn`` for the common frame-0 ALU and ``if rX op K`` instructions without
    history (no log); False when the general path is needed."""
    if insn is None:
        return False
    code = insn.code
    cls = code & 7
    if cls == 4 or cls == 7:
        masks = bt.reg_masks
        rm = masks[0]
        d = insn.dst
        if rm >> d & 1:
            op = code & 0xF0
            if op == 0xB0:
                rm &= ~(1 << d)
                if code & 8 and insn.src != BPF_REG_FP:
                    rm |= 1 << insn.src
            elif op not in (0x80, 0xD0) and code & 8 and insn.src != BPF_REG_FP:
                rm |= 1 << insn.src
            masks[0] = rm
        return True
    return (cls == 5 or cls == 6) and not code & 8 and code & 0xF0 not in (0x00, 0x80, 0x90)


def _func_entry(st: VerifierState, bt: Backtrack) -> None:
    f0 = st.frame[0]
    if (
        st.curframe == 0
        and f0.subprogno > 0
        and f0.callsite == -1
        and not bt.stack_masks[bt.frame]
        and not (bt.reg_masks[bt.frame] & ~REGMASK_ARGS)
    ):
        for i in range(32):
            if bt.reg_masks[bt.frame] >> i & 1:
                bt.clear_reg(i)
                r = f0.regs[i]
                if r.type == SCALAR_VALUE:
                    r.precise = True
        return
    raise VerifierBug("backtracking func entry")


def _mark_parent(env: Env, st: VerifierState, bt: Backtrack) -> None:
    for fr in range(bt.frame, -1, -1):
        f = st.frame[fr]
        mask = bt.reg_masks[fr]
        for i in range(32):
            if not mask >> i & 1:
                continue
            r = f.regs[i]
            if r.type != SCALAR_VALUE or r.precise:
                bt.clear_reg(i, fr)
            else:
                r.precise = True
        smask = bt.stack_masks[fr]
        for spi in range(64):
            if not smask >> spi & 1:
                continue
            if spi >= len(f.stack):
                raise VerifierBug(f"stack slot {spi}, total slots {len(f.stack)}")
            slot = f.stack[spi]
            if not slot.is_spilled_scalar_reg:
                bt.clear_slot(fr, spi)
                continue
            if slot.spilled.precise:
                bt.clear_slot(fr, spi)
            else:
                slot.spilled.precise = True
        if env.log.level2:
            env.verbose(
                f"mark_precise: frame{fr}: parent state regs={fmt_reg_mask(bt.reg_masks[fr])} "
                f"stack={fmt_stack_mask(bt.stack_masks[fr])}: "
            )
            env.print_verifier_state(st, fr, True)


def _sync_linked(bt: Backtrack, hist: JmpHistoryEntry | None) -> None:
    """``bt_sync_linked_regs``."""
    if hist is None or not hist.linked_regs:
        return
    some = False
    for frameno, n, is_reg in hist.linked_regs:
        if (is_reg and bt.reg_masks[frameno] >> n & 1) or (not is_reg and bt.slot_set(frameno, n)):
            some = True
            break
    if not some:
        return
    for frameno, n, is_reg in hist.linked_regs:
        if is_reg:
            bt.set_reg(n, frameno)
        else:
            bt.set_slot(frameno, n)


def backtrack_insn(
    env: Env, idx: int, subseq_idx: int, hist: JmpHistoryEntry | None, bt: Backtrack
) -> None:
    """``backtrack_insn``: translate the precision needs across instruction ``idx``."""
    insn = env.info.slots[idx]
    if insn is None or insn.code == 0:
        return
    if hist is None and not env.log.level:
        code = insn.code
        cls = code & 7
        if cls in (4, 7):
            if not (bt.reg_masks[bt.frame] >> insn.dst) & 1 or code & 0xF0 in (0x80, 0xD0):
                return
            if code & 0xF0 == 0xB0:
                bt.clear_reg(insn.dst)
                if code & 8 and insn.src != BPF_REG_FP:
                    bt.set_reg(insn.src)
            elif code & 8 and insn.src != BPF_REG_FP:
                bt.set_reg(insn.src)
            return
        if cls in (5, 6) and not code & 8 and code & 0xF0 not in (0x00, 0x80, 0x90):
            return
    if env.log.level2:
        from bpfvm.verifier.log import insn_text

        env.verbose(
            f"mark_precise: frame{bt.frame}: regs={fmt_reg_mask(bt.reg_masks[bt.frame])} "
            f"stack={fmt_stack_mask(bt.stack_masks[bt.frame])} before {idx}: {insn_text(insn)}\n"
        )
    _sync_linked(bt, hist)
    cls = insn.code & 7
    op = insn.code & 0xF0
    dreg, sreg = insn.dst, insn.src
    if cls in (4, 7):
        if not bt.reg_set(dreg) or op in (0x80, 0xD0):
            return
        if op == 0xB0:
            bt.clear_reg(dreg)
            if insn.code & 8 and sreg != BPF_REG_FP:
                bt.set_reg(sreg)
        elif insn.code & 8 and sreg != BPF_REG_FP:
            bt.set_reg(sreg)
    elif cls == 1 or (cls == 3 and insn.code & 0xE0 == 0xC0 and insn.imm == 0x100):
        if not bt.reg_set(dreg):
            return
        bt.clear_reg(dreg)
        if hist is None or not hist.flags & INSN_F_STACK_ACCESS:
            return
        bt.set_slot(hist.flags & 7, (hist.flags >> 4) & 0x3F)
    elif cls in (2, 3):
        if bt.reg_set(dreg):
            raise Unsupported
        if hist is None or not hist.flags & INSN_F_STACK_ACCESS:
            return
        fr, spi = hist.flags & 7, (hist.flags >> 4) & 0x3F
        if not bt.slot_set(fr, spi):
            return
        bt.clear_slot(fr, spi)
        if cls == 3:
            bt.set_reg(sreg)
    elif cls in (5, 6):
        _backtrack_jmp(env, idx, subseq_idx, hist, bt)
    elif cls == 0:
        if not bt.reg_set(dreg):
            return
        bt.clear_reg(dreg)
        if insn.code & 0xE0 in (0x20, 0x40):
            raise Unsupported
    _sync_linked(bt, hist)


def _backtrack_jmp(
    env: Env, idx: int, subseq_idx: int, hist: JmpHistoryEntry | None, bt: Backtrack
) -> None:
    from bpfvm.verifier.subprog import find_subprog, subprog_is_global

    insn = env.info.slots[idx]
    assert insn is not None
    op = insn.code & 0xF0
    calls_cb = env.info.calls_callback
    if op == 0x80 and insn.src == 1:
        sub = find_subprog(env, idx + insn.imm + 1)
        if subprog_is_global(env, sub):
            bt.clear_reg(0)
            return
        if bt.reg_masks[bt.frame] & ~REGMASK_ARGS:
            raise _kernel_bug(f"static subprog unexpected regs {bt.reg_masks[bt.frame]:x}")
        if bt.stack_masks[bt.frame]:
            raise _kernel_bug(f"static subprog leftover stack slots {bt.stack_masks[bt.frame]:x}")
        for i in range(1, 6):
            if bt.reg_set(i):
                bt.clear_reg(i)
                bt.set_reg(i, bt.frame - 1)
        bt.frame -= 1
        return
    if op == 0x80 and calls_cb[idx] and idx != subseq_idx - 1:
        if bt.reg_masks[bt.frame] & ~REGMASK_ARGS:
            raise _kernel_bug(f"callback unexpected regs {bt.reg_masks[bt.frame]:x}")
        if bt.stack_masks[bt.frame]:
            raise _kernel_bug(f"callback leftover stack slots {bt.stack_masks[bt.frame]:x}")
        for i in range(1, 6):
            bt.clear_reg(i)
        bt.frame -= 1
        return
    if op == 0x80:
        bt.clear_reg(0)
        if bt.reg_masks[bt.frame] & REGMASK_ARGS:
            raise _kernel_bug(f"backtracking call unexpected regs {bt.reg_masks[bt.frame]:x}")
        if insn.src == 0 and insn.imm == 12 and subseq_idx - idx != 1:
            bt.frame += 1
        return
    if op == 0x90:
        if subseq_idx >= 0 and calls_cb[subseq_idx]:
            for i in range(1, 6):
                bt.clear_reg(i)
        prev = env.info.slots[subseq_idx - 1] if subseq_idx >= 1 else None
        if bt.reg_masks[bt.frame] & REGMASK_ARGS:
            raise _kernel_bug(f"backtracking exit unexpected regs {bt.reg_masks[bt.frame]:x}")
        r0 = prev is not None and prev.code == 0x85 and prev.src == 1 and bt.reg_set(0)
        bt.clear_reg(0)
        bt.frame += 1
        if r0:
            bt.set_reg(0)
        return
    if insn.code & 8 and op not in (0x00,):
        if not bt.reg_set(insn.dst) and not bt.reg_set(insn.src):
            return
        if hist is None or not hist.flags & INSN_F_SRC_REG_STACK:
            bt.set_reg(insn.src)
        if hist is None or not hist.flags & INSN_F_DST_REG_STACK:
            bt.set_reg(insn.dst)


def _kernel_bug(text: str) -> Exception:
    """A condition the kernel reports with ``verifier_bug()`` (and rejects the program)."""
    from bpfvm.verifier.errors import EFAULT, reject

    return reject(f"verifier bug: {text}", EFAULT)


def mark_all_scalars_precise(env: Env, st: VerifierState) -> None:
    """``mark_all_scalars_precise``: the big hammer, for every checkpoint of the path."""
    if env.log.level2:
        env.verbose(
            f"mark_precise: frame{st.curframe}: falling back to forcing all scalars precise\n"
        )
    p = st.parent
    while p is not None:
        for i in range(p.curframe + 1):
            f = p.frame[i]
            for j in range(BPF_REG_FP):
                r = f.regs[j]
                if r.type == SCALAR_VALUE and not r.precise:
                    r.precise = True
                    if env.log.level2:
                        env.verbose(f"force_precise: frame{i}: forcing r{j} to be precise\n")
            for j, slot in enumerate(f.stack):
                r = slot.spilled
                if slot.is_spilled_reg and r.type == SCALAR_VALUE and not r.precise:
                    r.precise = True
                    if env.log.level2:
                        env.verbose(
                            f"force_precise: frame{i}: forcing fp{-(j + 1) * 8} to be precise\n"
                        )
        p = p.parent


def mark_all_scalars_imprecise(env: Env, st: VerifierState) -> None:
    """``mark_all_scalars_imprecise``: a new checkpoint forgets inherited precision."""
    for f in st.frame:
        for r in f.regs:
            if r.type == SCALAR_VALUE:
                r.precise = False
        for slot in f.stack:
            if slot.is_spilled_reg and slot.spilled.type == SCALAR_VALUE:
                slot.spilled.precise = False
