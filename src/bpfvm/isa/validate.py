"""Encoding validity of single instructions, in the kernel's words.

These are the checks the kernel makes on an instruction's fields before
(``check_and_resolve_insns``) or while (``check_alu_op``, ``check_cond_jmp_op``,
``do_check_insn``) it analyses it, and that depend on nothing but the instruction:
unknown opcodes, reserved fields that must be zero, out-of-range registers, malformed
ld_imm64 pairs. Semantic checks (``div by zero``, ``invalid shift``) belong to the verifier.
"""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import (
    MAX_BPF_REG,
    REG_PARAMS,
    AluOp,
    AtomicOp,
    InsnClass,
    Mode,
    PseudoSrc,
    Size,
    Source,
)
from bpfvm.isa.spec import OPCODES, OpKind, OpSpec

ATOMIC_RMW_OPS = frozenset(int(op) for op in AtomicOp) - {AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL}


def check_fields(insn: Insn) -> str | None:
    """Return the kernel's message for the first encoding error of ``insn``, or None."""
    cls = insn.code & 0x07
    if cls == InsnClass.LDX and ((insn.code & 0xE0) not in (Mode.MEM, Mode.MEMSX) or insn.imm != 0):
        return "BPF_LDX uses reserved fields"
    spec = OPCODES.get(insn.code)
    if spec is None:
        return f"unknown opcode {insn.code:02x}"
    msg = _FIELD_CHECKS[spec.kind](insn, spec)
    if msg is None:
        msg = _check_regs(insn, spec)
    return msg


def _alu(insn: Insn, spec: OpSpec) -> str | None:
    op = spec.alu_op
    if spec.source is Source.X:
        bad = insn.imm != 0 or insn.off not in (0, 1)
    else:
        bad = insn.src != 0 or insn.off not in (0, 1)
    if insn.off == 1 and op not in (AluOp.DIV, AluOp.MOD):
        bad = True
    return "BPF_ALU uses reserved fields" if bad else None


def _neg(insn: Insn, spec: OpSpec) -> str | None:
    if insn.src != 0 or insn.off != 0 or insn.imm != 0:
        return "BPF_NEG uses reserved fields"
    return None


def _mov(insn: Insn, spec: OpSpec) -> str | None:
    if spec.source is Source.X:
        if spec.cls == InsnClass.ALU:
            ok = insn.off in (0, 8, 16) and insn.imm == 0
        elif insn.off == 1:  # addr_space_cast
            if insn.imm not in (1, 1 << 16):
                return "addr_space_cast insn can only convert between address space 1 and 0"
            ok = True
        else:
            ok = insn.off in (0, 8, 16, 32) and insn.imm == 0
    else:
        ok = insn.src == 0 and insn.off == 0
    return None if ok else "BPF_MOV uses reserved fields"


def _end(insn: Insn, spec: OpSpec) -> str | None:
    if insn.src != 0 or insn.off != 0 or insn.imm not in (16, 32, 64):
        return "BPF_END uses reserved fields"
    return None


def _ja(insn: Insn, spec: OpSpec) -> str | None:
    bad = insn.src != 0 or insn.dst != 0
    bad |= insn.imm != 0 if spec.kind is OpKind.JA else insn.off != 0
    return "BPF_JA uses reserved fields" if bad else None


def _jcond(insn: Insn, spec: OpSpec) -> str | None:
    if insn.src != 0 or insn.dst != 0 or insn.imm != 0:
        return f"invalid may_goto imm {insn.imm}"
    return None


def _jcc(insn: Insn, spec: OpSpec) -> str | None:
    # check_cond_jmp_op validates the destination register before the reserved fields.
    if insn.dst >= MAX_BPF_REG:
        return f"R{insn.dst} is invalid"
    bad = insn.imm != 0 if spec.source is Source.X else insn.src != 0
    return "BPF_JMP/JMP32 uses reserved fields" if bad else None


def _call(insn: Insn, spec: OpSpec) -> str | None:
    if (insn.src != 2 and insn.off != 0) or insn.src not in (0, 1, 2) or insn.dst != 0:
        return "BPF_CALL uses reserved fields"
    return None


def _callx(insn: Insn, spec: OpSpec) -> str | None:
    # callx (uBPF / bpf_conformance): the target register is in dst.
    if insn.src != 0 or insn.off != 0 or insn.imm != 0:
        return "BPF_CALL uses reserved fields"
    return None


def _exit(insn: Insn, spec: OpSpec) -> str | None:
    if insn.imm != 0 or insn.src != 0 or insn.dst != 0:  # the kernel ignores off
        return "BPF_EXIT uses reserved fields"
    return None


_PSEUDO_SRCS = frozenset(int(p) for p in PseudoSrc)
_MAP_PTR_SRCS = frozenset((PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX))


def _ld_imm64(insn: Insn, spec: OpSpec) -> str | None:
    # check_and_resolve_insns looks at the pseudo source (a map pointer has no second
    # immediate) before check_ld_imm looks at the reserved offset.
    if insn.src not in _PSEUDO_SRCS or (insn.src in _MAP_PTR_SRCS and insn.imm_hi != 0):
        return "unrecognized bpf_ld_imm64 insn"
    if insn.off != 0:
        return "BPF_LD_IMM64 uses reserved fields"
    return None


def _ld_legacy(insn: Insn, spec: OpSpec) -> str | None:
    if insn.dst != 0 or insn.off != 0 or (spec.kind is OpKind.LD_ABS and insn.src != 0):
        return "BPF_LD_[ABS|IND] uses reserved fields"
    return None


def _ldx(insn: Insn, spec: OpSpec) -> str | None:
    return None  # reserved fields of LDX are checked before the opcode lookup


def _st(insn: Insn, spec: OpSpec) -> str | None:
    return "BPF_ST uses reserved fields" if insn.src != 0 else None


def _stx(insn: Insn, spec: OpSpec) -> str | None:
    return "BPF_STX uses reserved fields" if insn.imm != 0 else None


def _atomic(insn: Insn, spec: OpSpec) -> str | None:
    if insn.imm in ATOMIC_RMW_OPS:
        if spec.size not in (Size.W, Size.DW):
            return "invalid atomic operand size"
        return None
    if insn.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
        return None
    return f"BPF_ATOMIC uses invalid atomic opcode {insn.imm & 0xFFFFFFFF:02x}"


_FIELD_CHECKS = {
    OpKind.ALU: _alu,
    OpKind.NEG: _neg,
    OpKind.MOV: _mov,
    OpKind.END: _end,
    OpKind.BSWAP: _end,
    OpKind.JA: _ja,
    OpKind.GOTOL: _ja,
    OpKind.JCOND: _jcond,
    OpKind.JCC: _jcc,
    OpKind.CALL: _call,
    OpKind.CALLX: _callx,
    OpKind.EXIT: _exit,
    OpKind.LD_IMM64: _ld_imm64,
    OpKind.LD_ABS: _ld_legacy,
    OpKind.LD_IND: _ld_legacy,
    OpKind.LDX: _ldx,
    OpKind.LDX_SX: _ldx,
    OpKind.ST: _st,
    OpKind.STX: _stx,
    OpKind.ATOMIC: _atomic,
}
assert set(_FIELD_CHECKS) == set(OpKind)


def uses_regs(insn: Insn, spec: OpSpec) -> tuple[int, ...]:
    """The register fields an instruction reads or writes, in the order the kernel checks
    them (the source before the destination)."""
    kind = spec.kind
    if kind in (OpKind.JA, OpKind.GOTOL, OpKind.JCOND, OpKind.CALL, OpKind.EXIT, OpKind.LD_ABS):
        return ()
    if kind is OpKind.LD_IND:
        return (insn.src,)
    if kind is OpKind.CALLX:
        return (insn.dst,)
    if kind in (OpKind.NEG, OpKind.END, OpKind.BSWAP, OpKind.LD_IMM64, OpKind.ST):
        return (insn.dst,)
    if spec.source is Source.X:
        return (insn.src, insn.dst)
    return (insn.dst,)


def is_stack_arg_access(insn: Insn, spec: OpSpec) -> bool:
    """The r11 forms: ``rX = *(u64 *)(r11 + off)`` and ``*(u64 *)(r11 - off) = rX/imm``."""
    if spec.size is not Size.DW:
        return False
    if spec.kind is OpKind.LDX:
        return insn.src == REG_PARAMS and insn.dst < MAX_BPF_REG
    if spec.kind is OpKind.STX:
        return insn.dst == REG_PARAMS and insn.src < MAX_BPF_REG
    if spec.kind is OpKind.ST:
        return insn.dst == REG_PARAMS
    return False


def _check_regs(insn: Insn, spec: OpSpec) -> str | None:
    if is_stack_arg_access(insn, spec):
        return None
    for reg in uses_regs(insn, spec):
        if reg >= MAX_BPF_REG:
            return f"R{reg} is invalid"
    return None
