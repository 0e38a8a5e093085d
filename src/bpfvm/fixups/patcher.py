"""The one place every fixup rewrite goes through (``bpf_patch_insn_data``,
``verifier_remove_insns``, ``adjust_jmp_off``; fixups.c and core.c).

A :class:`Patcher` holds a mutable copy of an :class:`~bpfvm.fixups.program.XlatedProgram` as
a list of slots (``None`` for the second half of a ``ld_imm64``) and keeps, after every
insertion or removal:

* **branches** (``bpf_adj_branches``): a jump keeps its target instruction. A jump *to* the
  patched instruction lands on the first instruction of its replacement; jumps inside a
  replacement are the patch author's, in new coordinates, and are never touched. Adjusted
  fields: ``off`` of conditional jumps, ``ja`` and ``may_goto``; ``imm`` of ``gotol``, of
  bpf-to-bpf calls and of ``ld_imm64`` with ``BPF_PSEUDO_FUNC``.
* **range**: before anything changes, every adjusted offset is checked. A ``ja`` whose 16-bit
  offset no longer fits becomes ``gotol`` (same slot, 32-bit ``imm``); any other jump that no
  longer fits fails the patch with the kernel's ``insn %d cannot be patched due to 16-bit
  range`` (the instruction's index as loaded). Nothing is ever truncated.
* **subprogram starts** (``adjust_subprog_starts``), the terminal entry being the length;
  func_info rides on its subprogram and is rewritten from the final starts;
* **line info** (``bpf_adj_linfo``): records after the patched instruction move;
* **aux** (``adjust_insn_aux_data``): entries after the patch move; the original entry ends on
  the last slot of the replacement, the new slots get fresh entries that inherit ``seen`` and
  ``orig_idx``.

Removal (:meth:`Patcher.remove`) is ``verifier_remove_insns``: subprograms wholly inside the
range go (with their func_info), line-info records inside it go, the first surviving
instruction inherits the last removed record when it has none of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bpfvm.fixups.aux import InsnAux, SubprogAux
from bpfvm.fixups.errors import ERANGE, FixupError
from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import CallSrc, InsnClass, JmpOp, PseudoSrc
from bpfvm.program.model import FuncInfo, LineInfo

S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
JA_CODE = InsnClass.JMP | JmpOp.JA
GOTOL_CODE = InsnClass.JMP32 | JmpOp.JA
CALL_CODE = InsnClass.JMP | JmpOp.CALL
EXIT_CODE = InsnClass.JMP | JmpOp.EXIT


def branch_field(insn: Insn) -> str | None:
    """Which field of ``insn`` holds a relative slot offset: "off", "imm" or None."""
    code = insn.code
    if code == LD_IMM64_CODE:
        return "imm" if insn.src == PseudoSrc.FUNC else None
    cls = code & 0x07
    if cls not in (InsnClass.JMP, InsnClass.JMP32):
        return None
    if code == CALL_CODE:
        return "imm" if insn.src == CallSrc.PSEUDO_CALL else None
    if code in (EXIT_CODE, InsnClass.JMP | JmpOp.CALL | 0x08, InsnClass.JMP | 0xF0):
        return None  # exit, callx, internal tail call
    if code == (InsnClass.JMP | 0xE0) and insn.src != 0:
        return None  # not may_goto (src 0): CALL_ARGS is final, nothing patches after it
    return "imm" if code == GOTOL_CODE else "off"


def is_jump(insn: Insn) -> bool:
    """A jump in the sense of ``adjust_jmp_off``: JMP/JMP32 class, not a call or exit."""
    field = branch_field(insn)
    return field is not None and insn.code not in (CALL_CODE, LD_IMM64_CODE)


def _rel(insn: Insn, field: str) -> int:
    return insn.imm if field == "imm" else insn.off


class Patcher:
    """A mutable program; :meth:`finish` freezes it again."""

    def __init__(self, prog: XlatedProgram) -> None:
        self.prog = prog
        self.slots: list[Insn | None] = []
        for insn in prog.insns:
            self.slots.append(insn)
            if insn.width == 2:
                self.slots.append(None)
        if len(prog.aux.insns) != len(self.slots):
            raise ValueError(f"aux has {len(prog.aux.insns)} entries for {len(self.slots)} slots")
        self.aux: list[InsnAux] = list(prog.aux.insns)
        self.subprogs: list[SubprogAux] = list(prog.aux.subprogs)
        func_info = list(prog.func_info) or [None] * len(self.subprogs)
        self.func_info: list[FuncInfo | None] = func_info
        self.line_info: list[LineInfo] = list(prog.line_info)

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.slots)

    def insn(self, idx: int) -> Insn:
        insn = self.slots[idx]
        if insn is None:
            raise IndexError(f"slot {idx} is the second half of a ld_imm64")
        return insn

    def indices(self) -> list[int]:
        """The slot of every instruction, in order (a snapshot)."""
        return [i for i, s in enumerate(self.slots) if s is not None]

    def subprog_of(self, idx: int) -> int:
        """The subprogram that slot ``idx`` belongs to."""
        k = 0
        for i, sp in enumerate(self.subprogs):
            if sp.start <= idx:
                k = i
        return k

    def subprog_end(self, k: int) -> int:
        return self.subprogs[k + 1].start if k + 1 < len(self.subprogs) else len(self.slots)

    # -- in-place changes (no slot moves) --------------------------------------------------

    def replace(self, idx: int, insn: Insn) -> None:
        """Overwrite one instruction with one of the same width; no offsets move."""
        old = self.insn(idx)
        if old.width != insn.width:
            raise ValueError("replace() keeps the width; use patch()")
        self.slots[idx] = insn

    def set_subprog(self, k: int, **changes: object) -> None:
        self.subprogs[k] = replace(self.subprogs[k], **changes)  # type: ignore[arg-type]

    def set_aux(self, idx: int, **changes: object) -> None:
        self.aux[idx] = replace(self.aux[idx], **changes)  # type: ignore[arg-type]

    # -- insertion -----------------------------------------------------------------------

    def patch(self, off: int, new: Sequence[Insn]) -> int:
        """Replace the instruction at slot ``off`` with ``new``; returns the slot delta."""
        old = self.insn(off)
        if not new:
            raise ValueError("a patch needs at least one instruction; use remove()")
        width = old.width
        nslots = sum(i.width for i in new)
        delta = nslots - width

        def new_pos(p: int) -> int:
            return p + delta if p > off else p

        self._remap(new_pos, lambda p, t: new_pos(t), skip=(off, off + width), at=off)
        seq: list[Insn | None] = []
        for insn in new:
            seq.append(insn)
            if insn.width == 2:
                seq.append(None)
        self.slots[off : off + width] = seq
        old_aux = self.aux[off : off + width]
        fresh = [
            InsnAux(seen=old_aux[0].seen, orig_idx=old_aux[0].orig_idx)
            for _ in range(nslots - width)
        ]
        if old_aux[0].jmp_target:  # an indirect jump target stays on the first instruction
            old_aux = [replace(a, jmp_target=False) for a in old_aux]
            if fresh:
                fresh[0] = replace(fresh[0], jmp_target=True)
            else:
                old_aux[0] = replace(old_aux[0], jmp_target=True)
        self.aux[off : off + width] = fresh + old_aux if nslots >= width else old_aux[:nslots]
        self.subprogs = [
            replace(sp, start=sp.start + delta) if sp.start > off else sp for sp in self.subprogs
        ]
        self.line_info = [
            replace(li, insn_off=li.insn_off + delta) if li.insn_off > off else li
            for li in self.line_info
        ]
        return delta

    def adjust_jmp_off(self, tgt: int, delta: int) -> None:
        """``adjust_jmp_off``: jumps (not calls) to ``tgt`` from outside ``[tgt, tgt+delta)``
        skip the ``delta`` slots just inserted there (a prologue, a counter init)."""
        updates: list[tuple[int, Insn]] = []
        for p, insn in enumerate(self.slots):
            if insn is None or tgt <= p < tgt + delta or not is_jump(insn):
                continue
            field = branch_field(insn)
            assert field is not None
            rel = _rel(insn, field)
            if p + 1 + rel != tgt:
                continue
            updates.append((p, self._with_rel(p, insn, field, rel + delta)))
        for p, insn in updates:
            self.slots[p] = insn

    # -- removal -------------------------------------------------------------------------

    def remove(self, off: int, cnt: int) -> None:
        """``verifier_remove_insns``: delete slots ``[off, off+cnt)``."""
        if cnt <= 0:
            return
        end = off + cnt
        if self.slots[off] is None or (end < len(self.slots) and self.slots[end] is None):
            raise ValueError("removal would split a ld_imm64")

        def new_pos(p: int) -> int:
            return p - cnt if p >= end else p

        def new_target(p: int, t: int) -> int:
            if t < off:
                return t
            return off if t < end else t - cnt

        self._remap(new_pos, new_target, skip=(off, end), at=off)
        del self.slots[off:end]
        del self.aux[off:end]
        self._remove_subprogs(off, end)
        self._remove_linfo(off, end)

    def _remove_subprogs(self, off: int, end: int) -> None:
        keep_sp: list[SubprogAux] = []
        keep_fi: list[FuncInfo | None] = []
        total = len(self.slots) + (end - off)  # length before the removal
        for k, sp in enumerate(self.subprogs):
            sp_end = self.subprogs[k + 1].start if k + 1 < len(self.subprogs) else total
            if off <= sp.start and sp_end <= end and k > 0:
                continue  # wholly removed, with its func_info
            if off <= sp.start < end:
                sp = replace(sp, start=off)
            elif sp.start >= end:
                sp = replace(sp, start=sp.start - (end - off))
            keep_sp.append(sp)
            keep_fi.append(self.func_info[k])
        self.subprogs, self.func_info = keep_sp, keep_fi

    def _remove_linfo(self, off: int, end: int) -> None:
        cnt = end - off
        out: list[LineInfo] = []
        last_removed: LineInfo | None = None
        for li in self.line_info:
            if li.insn_off < off:
                out.append(li)
            elif li.insn_off < end:
                last_removed = li
            else:
                if last_removed is not None and li.insn_off != end:
                    out.append(replace(last_removed, insn_off=off))
                last_removed = None
                out.append(replace(li, insn_off=li.insn_off - cnt))
        if last_removed is not None and off < len(self.slots):
            out.append(replace(last_removed, insn_off=off))
        self.line_info = out

    # -- branch remapping ----------------------------------------------------------------

    def _remap(
        self,
        pos: Callable[[int], int],
        target: Callable[[int, int], int],
        skip: tuple[int, int],
        at: int,
    ) -> None:
        """Re-aim every branch outside ``skip`` (old coordinates); ``pos(p)`` and
        ``target(p, t)`` give new coordinates. All-or-nothing: on overflow nothing changes."""
        updates: list[tuple[int, Insn]] = []
        for p, insn in enumerate(self.slots):
            if insn is None or skip[0] <= p < skip[1]:
                continue
            field = branch_field(insn)
            if field is None:
                continue
            rel = _rel(insn, field)
            t = p + 1 + rel
            np, nt = pos(p), target(p, t)
            new_rel = nt - np - 1
            if new_rel != rel:
                updates.append((p, self._with_rel(at, insn, field, new_rel)))
        for p, insn in updates:
            self.slots[p] = insn

    def _with_rel(self, at: int, insn: Insn, field: str, rel: int) -> Insn:
        if field == "imm":
            if not S32_MIN <= rel <= S32_MAX:
                raise self._range_error(at)
            return replace(insn, imm=rel)
        if S16_MIN <= rel <= S16_MAX:
            return replace(insn, off=rel)
        if insn.code == JA_CODE:  # widen: gotol carries a 32-bit offset in imm
            return Insn(GOTOL_CODE, 0, 0, 0, rel)
        raise self._range_error(at)

    def _range_error(self, at: int) -> FixupError:
        orig = self.aux[at].orig_idx if 0 <= at < len(self.aux) else at
        return FixupError(
            f"insn {orig if orig >= 0 else at} cannot be patched due to 16-bit range", ERANGE
        )

    # -- result --------------------------------------------------------------------------

    def finish(self, **changes: object) -> XlatedProgram:
        insns = tuple(i for i in self.slots if i is not None)
        aux = replace(self.prog.aux, insns=tuple(self.aux), subprogs=tuple(self.subprogs))
        return replace(
            self.prog,
            insns=insns,
            aux=aux,
            line_info=tuple(self.line_info),
            func_info=tuple(self.func_info) if any(self.func_info) else (),
            **changes,  # type: ignore[arg-type]
        )
