"""Dead code (fixups.c): ``hard_wire_dead_code_branches``, ``remove_dead_code``,
``remove_nops`` for a privileged loader, ``sanitize_dead_code`` otherwise.

* hard-wiring: a conditional jump (``may_goto`` included, as the kernel's
  ``insn_is_cond_jump`` counts it) whose fall-through the verifier never reached becomes
  ``ja`` to its target; one whose target it never reached becomes ``ja 0``;
* removal: every maximal run of unreached slots goes (``verifier_remove_insns``);
* nops: ``ja 0`` and ``may_goto 0`` go; after a ``may_goto`` the scan steps back so that
  ``may_goto +1; may_goto +0`` collapses completely;
* sanitising (unprivileged): every unreached instruction becomes ``ja -1``, length unchanged.

Everything but ``remove_nops`` needs the verifier's visited bits.
"""

from __future__ import annotations

from bpfvm.fixups.aux import FACT_SEEN
from bpfvm.fixups.build import ja
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.passes.common import note
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import InsnClass, JmpOp

JA_0 = ja(0)
MAY_GOTO_0 = Insn(InsnClass.JMP | JmpOp.JCOND)
_NOT_COND = (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT)


def is_cond_jump(insn: Insn) -> bool:
    """``insn_is_cond_jump``."""
    cls = insn.code & 0x07
    return cls in (InsnClass.JMP, InsnClass.JMP32) and (insn.code & 0xF0) not in _NOT_COND


def hard_wire_dead_code_branches(p: Patcher) -> None:
    for i in p.indices():
        insn = p.insn(i)
        if not is_cond_jump(insn):
            continue
        if not p.aux[i + 1].seen:
            p.replace(i, ja(insn.off))
        elif not p.aux[i + 1 + insn.off].seen:
            p.replace(i, JA_0)


def remove_dead_code(p: Patcher) -> None:
    i = 0
    while i < len(p):
        j = 0
        while i + j < len(p) and not p.aux[i + j].seen:
            j += 1
        if j:
            p.remove(i, j)
        else:
            i += 1


def remove_nops(p: Patcher) -> None:
    i = 0
    while i < len(p):
        insn = p.slots[i]
        is_may_goto_0 = insn == MAY_GOTO_0
        if insn != JA_0 and not is_may_goto_0:
            i += 1
            continue
        p.remove(i, 1)
        i = max(i - 1, 0) if is_may_goto_0 else i


def sanitize_dead_code(p: Patcher) -> None:
    for i in p.indices():
        if not p.aux[i].seen:
            # every slot becomes `ja -1`: a dead ld_imm64 turns into two of them
            p.patch(i, [ja(-1)] * p.insn(i).width)


class DeadCode:
    name = "dead_code"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        p = Patcher(prog)
        seen = prog.aux.has(FACT_SEEN)
        if prog.aux.privileged:
            if seen:
                hard_wire_dead_code_branches(p)
                remove_dead_code(p)
            remove_nops(p)
        elif seen:
            sanitize_dead_code(p)
        out = p.finish()
        if not seen:
            out = note(out, "dead code: no visited bits without the verifier (only nops removed)")
        return out
