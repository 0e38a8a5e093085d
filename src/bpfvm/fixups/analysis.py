"""Facts the instruction text alone proves, for running fixups without the verifier.

:func:`standalone_aux` gives every slot ``seen`` (so no code is treated as dead), its own
``orig_idx``, and no pointer, map, zero-extension, loop-inlining or fastcall facts: those are
listed in ``FixupAux.missing`` and the passes that need them do nothing. Per subprogram it
computes:

* **stack depth**, a sound over-estimate of the kernel's ``stack_depth``: a forward data-flow
  over the subprogram's instructions where a register is either "not derived from r10" or
  "r10 + c for some c >= the recorded minimum". Every value ``r10 + c`` and every access
  ``*(r10 + c + off)`` lowers the frame's bottom to ``c`` / ``c + off``. A stack pointer
  stored to memory, combined with an unknown scalar or pushed below -512 escapes the analysis:
  the depth is then :data:`MAX_BPF_STACK`.
* **stack arguments** from the r11 accesses: incoming ``r11 + 8k`` reads and outgoing
  ``r11 - 8k`` writes (the verifier takes the incoming count from BTF; the text gives a lower
  bound that is exact for programs the verifier accepts).
* whether a tail call is reachable from the subprogram.
"""

from __future__ import annotations

from collections.abc import Sequence

from bpfvm.fixups.aux import VERIFIER_FACTS, FixupAux, InsnAux, SubprogAux
from bpfvm.fixups.patcher import branch_field
from bpfvm.fixups.program import MAX_BPF_STACK
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import REG_FP, REG_PARAMS, AluOp, CallSrc, InsnClass, JmpOp, Mode, Source
from bpfvm.program.model import Program

FUNC_TAIL_CALL = 12
_CALL = InsnClass.JMP | JmpOp.CALL
_EXIT = InsnClass.JMP | JmpOp.EXIT
_JA = InsnClass.JMP | JmpOp.JA
_GOTOL = InsnClass.JMP32 | JmpOp.JA
Slots = Sequence[Insn | None]


def to_slots(insns: Sequence[Insn]) -> list[Insn | None]:
    out: list[Insn | None] = []
    for insn in insns:
        out.append(insn)
        if insn.width == 2:
            out.append(None)
    return out


def successors(slots: Slots, idx: int) -> list[int]:
    """Control-flow successors of the instruction at ``idx`` inside its function (a call
    falls through; exit has none)."""
    insn = slots[idx]
    assert insn is not None
    nxt = idx + insn.width
    code = insn.code
    if code == _EXIT:
        return []
    field = branch_field(insn)
    if field is None or code in (_CALL, LD_IMM64_CODE):
        return [nxt]
    rel = insn.imm if field == "imm" else insn.off
    target = idx + 1 + rel
    if code in (_JA, _GOTOL):
        return [target]
    return [nxt, target]


class _Escaped(Exception):
    pass


def _fp_transfer(insn: Insn, regs: list[int | None], low: list[int]) -> None:
    """One instruction of the stack-depth analysis; ``low[0]`` is the lowest offset seen."""
    cls, code = insn.code & 0x07, insn.code

    def touch(c: int) -> None:
        if c < -MAX_BPF_STACK:
            raise _Escaped
        low[0] = min(low[0], c)

    if cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX):
        base = insn.src if cls == InsnClass.LDX else insn.dst
        if base < len(regs) and regs[base] is not None:
            touch(regs[base] + insn.off)  # type: ignore[operator]
        if cls == InsnClass.STX and insn.src < len(regs) and regs[insn.src] is not None:
            raise _Escaped  # a stack pointer stored to memory
        atomic = cls == InsnClass.STX and (code & 0xE0) == Mode.ATOMIC
        if atomic and insn.imm == 0xF1:  # cmpxchg defines r0
            regs[0] = None
        elif atomic and insn.imm == 0x100:  # load-acquire defines dst
            regs[insn.dst] = None
        elif atomic and insn.imm & 0x01:  # fetching ops define src
            regs[insn.src] = None
        if cls == InsnClass.LDX and insn.dst < len(regs):
            regs[insn.dst] = None
        return
    if code == _CALL:
        for r in range(6):
            regs[r] = None
        return
    if code == LD_IMM64_CODE:
        regs[insn.dst] = None
        return
    if cls == InsnClass.LD:  # LD_ABS/LD_IND clobber r0..r5 like a call
        for r in range(6):
            regs[r] = None
        return
    if cls not in (InsnClass.ALU, InsnClass.ALU64):
        return
    op = code & 0xF0
    d, s = insn.dst, insn.src
    x = (code & 0x08) == Source.X
    if cls == InsnClass.ALU64 and op == AluOp.MOV and x and insn.off == 0:
        regs[d] = regs[s]
    elif op == AluOp.MOV:
        regs[d] = None  # overwritten (a 32-bit copy of a stack pointer is no pointer)
    elif cls == InsnClass.ALU64 and op in (AluOp.ADD, AluOp.SUB) and not x and regs[d] is not None:
        regs[d] = regs[d] + (insn.imm if op == AluOp.ADD else -insn.imm)  # type: ignore[operator]
        touch(regs[d])  # type: ignore[arg-type]
    elif regs[d] is not None or (x and s < len(regs) and regs[s] is not None):
        raise _Escaped  # pointer arithmetic with an unknown scalar, or a truncated pointer
    else:
        regs[d] = None


def _join(a: list[int | None], b: list[int | None]) -> list[int | None]:
    out: list[int | None] = []
    for x, y in zip(a, b, strict=True):
        if x is None:
            out.append(y)
        elif y is None:
            out.append(x)
        else:
            out.append(min(x, y))
    return out


def frame_stack_depth(slots: Slots, start: int, end: int) -> int:
    """Over-estimate of the stack the subprogram ``[start, end)`` uses below its r10."""
    entry: list[int | None] = [None] * 11
    entry[REG_FP] = 0
    states: dict[int, list[int | None]] = {start: entry}
    work = [start]
    low = [0]
    try:
        while work:
            idx = work.pop()
            insn = slots[idx]
            assert insn is not None
            regs = list(states[idx])
            _fp_transfer(insn, regs, low)
            for nxt in successors(slots, idx):
                if not start <= nxt < end:
                    continue
                old = states.get(nxt)
                new = regs if old is None else _join(old, regs)
                if new != old:
                    states[nxt] = new
                    work.append(nxt)
    except _Escaped:
        return MAX_BPF_STACK
    return -low[0]


def _stack_args(slots: Slots, start: int, end: int) -> tuple[int, int]:
    """(incoming stack args read, highest outgoing slot written) from r11 accesses."""
    incoming = outgoing = 0
    for insn in slots[start:end]:
        if insn is None:
            continue
        cls = insn.code & 0x07
        if cls == InsnClass.LDX and insn.src == REG_PARAMS and insn.off > 0:
            incoming = max(incoming, insn.off // 8)
        elif cls in (InsnClass.ST, InsnClass.STX) and insn.dst == REG_PARAMS and insn.off < 0:
            outgoing = max(outgoing, -insn.off // 8)
    return incoming, outgoing


def _callees(slots: Slots, start: int, end: int) -> list[int]:
    out = []
    for i in range(start, end):
        insn = slots[i]
        if insn is not None and insn.code == _CALL and insn.src == CallSrc.PSEUDO_CALL:
            out.append(i + 1 + insn.imm)
    return out


def _has_tail_call(slots: Slots, start: int, end: int) -> bool:
    return any(
        i is not None and i.code == _CALL and i.src == CallSrc.HELPER and i.imm == FUNC_TAIL_CALL
        for i in slots[start:end]
    )


def standalone_aux(prog: Program, privileged: bool = True) -> FixupAux:
    """The facts of ``prog`` that need no verifier (see the module docstring)."""
    slots = to_slots(prog.insns)
    starts = list(prog.func_starts) or [0]
    bounds = [
        (s, starts[k + 1] if k + 1 < len(starts) else len(slots)) for k, s in enumerate(starts)
    ]
    tail = [_has_tail_call(slots, s, e) for s, e in bounds]
    index = {s: k for k, s in enumerate(starts)}
    changed = True
    while changed:  # tail calls reachable through bpf-to-bpf calls
        changed = False
        for k, (s, e) in enumerate(bounds):
            if not tail[k] and any(tail[index.get(c, k)] for c in _callees(slots, s, e)):
                tail[k] = changed = True
    subprogs = []
    for k, (s, e) in enumerate(bounds):
        incoming, outgoing = _stack_args(slots, s, e)
        subprogs.append(
            SubprogAux(
                start=s,
                stack_depth=frame_stack_depth(slots, s, e),
                in_stack_args=incoming,
                out_stack_args=outgoing,
                tail_call_reachable=tail[k],
            )
        )
    return FixupAux(
        insns=tuple(InsnAux(seen=True, orig_idx=i) for i in range(len(slots))),
        subprogs=tuple(subprogs),
        source="standalone",
        privileged=privileged,
        missing=VERIFIER_FACTS,
    )


def subprog_starts(insns: Sequence[Insn]) -> tuple[int, ...]:
    """Subprogram starts of a raw program (``add_subprog``): 0 and every target of a
    ``call pc+imm`` or a function ``ld_imm64``."""
    starts = {0}
    pc = 0
    for insn in insns:
        call = insn.code == _CALL and insn.src == CallSrc.PSEUDO_CALL
        if call or (insn.code == LD_IMM64_CODE and insn.src == 4):
            starts.add(pc + 1 + insn.imm)
        pc += insn.width
    return tuple(sorted(starts))


def callees(slots: Slots, start: int, end: int) -> list[int]:
    """Slots of the subprograms called (``call pc+imm``) from ``[start, end)``."""
    return _callees(slots, start, end)
