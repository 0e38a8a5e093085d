"""Small things several passes share."""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import CallSrc, InsnClass, JmpOp, PseudoSrc

CALL_CODE = InsnClass.JMP | JmpOp.CALL


def note(prog: XlatedProgram, text: str) -> XlatedProgram:
    """Record why something was skipped (shown in the xlated dump's header)."""
    if text in prog.notes:
        return prog
    return replace(prog, notes=(*prog.notes, text))


def is_helper_call(insn: Insn, helper_id: int | None = None) -> bool:
    if insn.code != CALL_CODE or insn.src != CallSrc.HELPER:
        return False
    return helper_id is None or insn.imm == helper_id


def is_pseudo_call(insn: Insn) -> bool:
    return insn.code == CALL_CODE and insn.src == CallSrc.PSEUDO_CALL


def is_kfunc_call(insn: Insn) -> bool:
    return insn.code == CALL_CODE and insn.src == CallSrc.KFUNC_CALL


def is_pseudo_func(insn: Insn) -> bool:
    return insn.code == (InsnClass.LD | 0x18) and insn.src == PseudoSrc.FUNC
