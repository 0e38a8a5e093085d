"""``bpf_opt_subreg_zext_lo32_rnd_hi32`` (fixups.c): explicit zero-extension where an engine
does not zero-extend 32-bit results by itself.

For each instruction the verifier marked ``zext_dst`` (a 32-bit definition whose upper half
is later read as 64 bits), insert ``wX = wX`` after it when the engine needs it
(``FixupOptions.jit_needs_zext``) or when it is a 32-bit CMPXCHG (which the kernel always
zero-extends). The register is ``insn_def_regno``: none for JMP/JMP32/ST, r0 for CMPXCHG, dst
for load-acquire, src for the other fetching atomics, dst otherwise. kfunc calls are the
JIT's business. Without the verifier's marks every 32-bit definition counts as marked, which
only adds harmless moves. bpfvm's interpreter zero-extends every 32-bit result, so for it
only CMPXCHG is ever touched. The kernel's ``BPF_F_TEST_RND_HI32`` is not offered.
"""

from __future__ import annotations

from bpfvm.fixups.aux import FACT_ZEXT
from bpfvm.fixups.build import mov32_reg
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import AtomicOp, InsnClass, JmpOp, Mode, Size


def insn_def_regno(insn: Insn) -> int | None:
    cls = insn.code & 0x07
    if cls in (InsnClass.JMP, InsnClass.JMP32, InsnClass.ST):
        return None
    if cls == InsnClass.STX:
        if (insn.code & 0xE0) != Mode.ATOMIC:
            return None
        if insn.imm == AtomicOp.CMPXCHG:
            return 0
        if insn.imm == AtomicOp.LOAD_ACQ:
            return insn.dst
        return insn.src if insn.imm & 0x01 else None
    return insn.dst


def is_cmpxchg32(insn: Insn) -> bool:
    return insn.code == (InsnClass.STX | Mode.ATOMIC | Size.W) and insn.imm == AtomicOp.CMPXCHG


def has_def32(insn: Insn) -> bool:
    """A definition of only the low 32 bits (what the verifier may mark ``zext_dst``)."""
    cls = insn.code & 0x07
    if insn.code == LD_IMM64_CODE or insn_def_regno(insn) is None:
        return False
    if cls == InsnClass.ALU:
        return True
    if cls == InsnClass.LDX:
        return (insn.code & 0xE0) == Mode.MEM and (insn.code & 0x18) != Size.DW
    if cls == InsnClass.STX:
        return (insn.code & 0x18) != Size.DW
    return False


class OptSubregZext:
    name = "opt_subreg_zext_lo32_rnd_hi32"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        needs = ctx.options.jit_needs_zext
        marked = prog.aux.has(FACT_ZEXT)
        p = Patcher(prog)
        changed = False
        i = 0
        while i < len(p):
            insn = p.slots[i]
            if insn is None:
                i += 1
                continue
            zext = p.aux[i].zext_dst if marked else has_def32(insn)
            call = insn.code == (InsnClass.JMP | JmpOp.CALL)
            if not zext or call or not (needs or is_cmpxchg32(insn)):
                i += insn.width
                continue
            reg = insn_def_regno(insn)
            assert reg is not None
            p.patch(i, [insn, mov32_reg(reg, reg)])
            changed = True
            i += 2
        return p.finish() if changed else prog
