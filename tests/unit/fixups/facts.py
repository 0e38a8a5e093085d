"""Hand-built verifier facts for tests: what the verifier will tell the fixups, derived for
the simple, compiler-generated programs of the corpus by a small forward data-flow.

This is a *test aid*, not a safety analysis: it tracks, per register and per r10 stack slot,
"the ctx pointer" (r1 at the main program's entry), "map #i" (a ``ld_imm64`` of a map) or
"something else", joining unequal values to "unknown". An access whose base is exactly the
ctx pointer is recorded as a ``PTR_TO_CTX`` access; a helper call whose r1 is exactly map #i
records ``map_idx = i`` (two different maps: poisoned). Everything is marked seen. If the
tracker got a fact wrong, the differential tests comparing fixed-up runs with the pinned
kernel results would say so.
"""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups import FixupAux, standalone_aux
from bpfvm.fixups.analysis import successors, to_slots
from bpfvm.fixups.aux import MAP_POISONED, VERIFIER_FACTS, InsnAux
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import CallSrc, InsnClass, JmpOp, Mode, PseudoSrc
from bpfvm.platform.arg_types import RegBase
from bpfvm.program.model import Program

CTX = "ctx"
UNKNOWN = "?"
Val = str | tuple[str, int] | None
State = tuple[tuple[Val, ...], tuple[tuple[int, Val], ...]]
MAP_HELPERS = {1, 2, 3, 12, 87, 88, 89, 164, 195}  # lookup/update/delete, tail call, queue, ...


def _join(a: Val, b: Val) -> Val:
    return a if a == b else UNKNOWN


def _join_state(a: State, b: State) -> State:
    regs = tuple(_join(x, y) for x, y in zip(a[0], b[0], strict=True))
    sa, sb = dict(a[1]), dict(b[1])
    stack = tuple(sorted((k, _join(sa.get(k), sb.get(k))) for k in set(sa) | set(sb)))
    return regs, stack


def _step(insn, regs: list[Val], stack: dict[int, Val]) -> None:  # type: ignore[no-untyped-def]
    cls, code = insn.code & 0x07, insn.code
    if code == LD_IMM64_CODE:
        regs[insn.dst] = ("map", insn.imm) if insn.src == PseudoSrc.MAP_FD else None
        return
    if cls == InsnClass.LDX:
        if insn.src == 10 and (code & 0x18) == 0x18:
            regs[insn.dst] = stack.get(insn.off)
        elif insn.dst < 11:
            regs[insn.dst] = None
        return
    if cls == InsnClass.STX and insn.dst == 10 and (code & 0xE0) == Mode.MEM:
        stack[insn.off] = regs[insn.src] if (code & 0x18) == 0x18 else None
        return
    if cls == InsnClass.ST and insn.dst == 10:
        stack[insn.off] = None
        return
    if code == (InsnClass.JMP | JmpOp.CALL):
        for r in range(6):
            regs[r] = None
        return
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        mov_x = code == (InsnClass.ALU64 | 0xB0 | 0x08) and insn.off == 0
        regs[insn.dst] = regs[insn.src] if mov_x else None


def _analyse(slots: list, start: int, end: int, entry: tuple[Val, ...]) -> dict[int, State]:  # type: ignore[type-arg]
    states: dict[int, State] = {start: (entry, ())}
    work = [start]
    while work:
        i = work.pop()
        regs, stack = list(states[i][0]), dict(states[i][1])
        _step(slots[i], regs, stack)
        out: State = (tuple(regs), tuple(sorted(stack.items())))
        for n in successors(slots, i):
            if not start <= n < end:
                continue
            old = states.get(n)
            new = out if old is None else _join_state(old, out)
            if new != old:
                states[n] = new
                work.append(n)
    return states


def _is_map_helper_call(insn: Insn) -> bool:
    call = insn.code == (InsnClass.JMP | JmpOp.CALL) and insn.src == CallSrc.HELPER
    return call and insn.imm in MAP_HELPERS


def hand_facts(prog: Program, privileged: bool = True) -> FixupAux:
    base = standalone_aux(prog, privileged)
    slots = to_slots(prog.insns)
    insns = list(base.insns)
    starts = [sp.start for sp in base.subprogs]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(slots)
        entry: list[Val] = [None] * 11
        if k == 0:
            entry[1] = CTX
        for i, (regs, _) in _analyse(slots, start, end, tuple(entry)).items():
            insn = slots[i]
            cls = insn.code & 0x07
            if cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX):
                b = insn.src if cls == InsnClass.LDX else insn.dst
                if b < 11 and regs[b] == CTX:
                    insns[i] = replace(insns[i], ptr_type=RegBase.PTR_TO_CTX)
            elif _is_map_helper_call(insn):
                r1 = regs[1]
                idx = r1[1] if isinstance(r1, tuple) else MAP_POISONED if r1 == UNKNOWN else -1
                insns[i] = replace(insns[i], map_idx=idx)
    return replace(
        base,
        insns=tuple(insns),
        source="hand",
        missing=frozenset(VERIFIER_FACTS - {"ptr_type", "map_ptr"}),
    )


def aux_with(prog: Program, **per_insn: dict[int, dict[str, object]]) -> FixupAux:
    """Stand-alone facts plus hand-written per-slot ones: ``aux_with(p, insns={3: {...}})``."""
    base = standalone_aux(prog)
    insns = list(base.insns)
    for idx, changes in per_insn.get("insns", {}).items():
        insns[idx] = replace(insns[idx], **changes)  # type: ignore[arg-type]
    return replace(base, insns=tuple(insns), missing=frozenset(), source="hand")


__all__ = ["InsnAux", "aux_with", "hand_facts"]
