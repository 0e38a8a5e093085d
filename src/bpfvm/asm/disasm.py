"""Instructions -> text, in the syntax ``llvm-objdump -d`` prints.

For every instruction LLVM 14 decodes, the text is exactly what ``llvm-objdump-14 -d`` prints
(tested against it). For instructions LLVM 14 does not know (the ISA v4 additions: sign
extension, signed division, bswap, gotol, may_goto, load-acquire/store-release, 32-bit
fetching atomics, ST with an immediate, r11 stack arguments) the text follows newer LLVM and
bpftool: ``r1 = (s8)r2``, ``r1 s/= r2``, ``r0 = bswap16 r0``, ``gotol +5``, ``may_goto +2``,
``r0 = load_acquire((u64 *)(r1 + 0))``, ``*(u64 *)(r11 - 8) = r6``. Where LLVM 14's text
would lose information (a bpf-to-bpf call prints as ``call 5``, a pseudo ld_imm64 drops its
second immediate), bpfvm prints a form its assembler reads back to the same bytes:
``call pc+5``, ``call kfunc:5``, ``ld_pseudo r1, 2, 3, 4``.
"""

from __future__ import annotations

from collections.abc import Iterable

from bpfvm.asm.syntax import (
    ALU_OPS,
    ATOMIC_FETCH_OPS,
    ATOMIC_LOCK_OPS,
    JMP_OPS,
    SIGNED_ALU_OPS,
    SIZE_NAMES,
)
from bpfvm.isa.codec import encode_insn
from bpfvm.isa.insn import Insn, slot_pcs
from bpfvm.isa.opcodes import AtomicOp, CallSrc, Size, Source
from bpfvm.isa.spec import OpKind, OpSpec


def _s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


def _reg(n: int, wide: bool) -> str:
    return f"r{n}" if wide else f"w{n}"


def _off(off: int) -> str:
    return f"+ {off}" if off >= 0 else f"- {-off}"


def _mem(size: Size | None, base: int, off: int, signed: bool = False) -> str:
    assert size is not None
    return f"*({'s' if signed else 'u'}{SIZE_NAMES[size]} *)(r{base} {_off(off)})"


def _target(off: int) -> str:
    return f"+{off}" if off >= 0 else str(off)


def format_insn(insn: Insn) -> str:
    """The text of one instruction (no address, no bytes)."""
    spec = insn.spec
    if spec is None:
        return f"<unknown opcode 0x{insn.code:02x}>"
    return _FORMATTERS[spec.kind](insn, spec)


def _alu(insn: Insn, spec: OpSpec) -> str:
    wide = spec.is64
    assert spec.alu_op is not None
    ops = SIGNED_ALU_OPS if insn.off == 1 and spec.alu_op in SIGNED_ALU_OPS else ALU_OPS
    rhs = _reg(insn.src, wide) if spec.source is Source.X else str(insn.imm)
    return f"{_reg(insn.dst, wide)} {ops[spec.alu_op]} {rhs}"


def _neg(insn: Insn, spec: OpSpec) -> str:
    r = _reg(insn.dst, spec.is64)
    return f"{r} = -{r}"


def _mov(insn: Insn, spec: OpSpec) -> str:
    wide = spec.is64
    dst = _reg(insn.dst, wide)
    if spec.source is Source.K:
        return f"{dst} = {insn.imm}"
    if wide and insn.off == 1:
        return f"r{insn.dst} = addr_space_cast(r{insn.src}, {insn.imm >> 16}, {insn.imm & 0xFFFF})"
    if insn.off:
        return f"{dst} = (s{insn.off}){_reg(insn.src, wide)}"
    return f"{dst} = {_reg(insn.src, wide)}"


def _end(insn: Insn, spec: OpSpec) -> str:
    swap_names = {Source.K: "le", Source.X: "be"}
    name = "bswap" if spec.kind is OpKind.BSWAP else swap_names[spec.source or Source.K]
    return f"r{insn.dst} = {name}{insn.imm} r{insn.dst}"


def _ja(insn: Insn, spec: OpSpec) -> str:
    return f"goto {_target(insn.off)}"


def _gotol(insn: Insn, spec: OpSpec) -> str:
    return f"gotol {_target(insn.imm)}"


def _jcond(insn: Insn, spec: OpSpec) -> str:
    return f"may_goto {_target(insn.off)}"


def _jcc(insn: Insn, spec: OpSpec) -> str:
    wide = spec.is64
    assert spec.jmp_op is not None
    rhs = _reg(insn.src, wide) if spec.source is Source.X else str(insn.imm)
    return f"if {_reg(insn.dst, wide)} {JMP_OPS[spec.jmp_op]} {rhs} goto {_target(insn.off)}"


def _call(insn: Insn, spec: OpSpec) -> str:
    if insn.src == CallSrc.PSEUDO_CALL:
        return f"call pc{_target(insn.imm)}"
    if insn.src == CallSrc.KFUNC_CALL:
        return f"call kfunc:{insn.imm}" + (f"@{insn.off}" if insn.off else "")
    return f"call {insn.imm}"


def _callx(insn: Insn, spec: OpSpec) -> str:
    return f"callx r{insn.dst}"


def _exit(insn: Insn, spec: OpSpec) -> str:
    return "exit"


def _ld_imm64(insn: Insn, spec: OpSpec) -> str:
    if insn.src == 0:
        return f"r{insn.dst} = {_s64(insn.imm64)} ll"
    text = f"ld_pseudo\tr{insn.dst}, {insn.src}, {insn.imm & 0xFFFFFFFF}"  # unsigned, as LLVM
    return text + (f", {insn.imm_hi & 0xFFFFFFFF}" if insn.imm_hi else "")


def _ld_abs(insn: Insn, spec: OpSpec) -> str:
    return f"r0 = *(u{SIZE_NAMES[spec.size or Size.W]} *)skb[{insn.imm}]"


def _ld_ind(insn: Insn, spec: OpSpec) -> str:
    idx = f"r{insn.src}" + (f" {_off(insn.imm)}" if insn.imm else "")
    return f"r0 = *(u{SIZE_NAMES[spec.size or Size.W]} *)skb[{idx}]"


def _ldx(insn: Insn, spec: OpSpec) -> str:
    signed = spec.kind is OpKind.LDX_SX
    return f"r{insn.dst} = {_mem(spec.size, insn.src, insn.off, signed)}"


def _st(insn: Insn, spec: OpSpec) -> str:
    return f"{_mem(spec.size, insn.dst, insn.off)} = {insn.imm}"


def _stx(insn: Insn, spec: OpSpec) -> str:
    return f"{_mem(spec.size, insn.dst, insn.off)} = r{insn.src}"


def _atomic(insn: Insn, spec: OpSpec) -> str:
    wide = spec.size is Size.DW
    bits = SIZE_NAMES[spec.size or Size.W]
    src = _reg(insn.src, wide)
    addr = f"r{insn.dst} {_off(insn.off)}"
    op = insn.imm
    if op in ATOMIC_LOCK_OPS:
        return f"lock {_mem(spec.size, insn.dst, insn.off)} {ATOMIC_LOCK_OPS[op]} r{insn.src}"
    if op in ATOMIC_FETCH_OPS:
        return f"{src} = atomic_fetch_{ATOMIC_FETCH_OPS[op]}((u{bits} *)({addr}), {src})"
    if op == AtomicOp.XCHG:
        name = "xchg_64" if wide else "xchg32_32"
        return f"{src} = {name}({addr}, {src})"
    if op == AtomicOp.CMPXCHG:
        name = "cmpxchg_64" if wide else "cmpxchg32_32"
        r0 = _reg(0, wide)
        return f"{r0} = {name}({addr}, {r0}, {src})"
    if op == AtomicOp.LOAD_ACQ:
        dst = _reg(insn.dst, wide)
        return f"{dst} = load_acquire((u{bits} *)(r{insn.src} {_off(insn.off)}))"
    if op == AtomicOp.STORE_REL:
        return f"store_release((u{bits} *)({addr}), {src})"
    return f"<invalid atomic op 0x{op & 0xFFFFFFFF:x}>"


_FORMATTERS = {
    OpKind.ALU: _alu,
    OpKind.NEG: _neg,
    OpKind.MOV: _mov,
    OpKind.END: _end,
    OpKind.BSWAP: _end,
    OpKind.JA: _ja,
    OpKind.GOTOL: _gotol,
    OpKind.JCOND: _jcond,
    OpKind.JCC: _jcc,
    OpKind.CALL: _call,
    OpKind.CALLX: _callx,
    OpKind.EXIT: _exit,
    OpKind.LD_IMM64: _ld_imm64,
    OpKind.LD_ABS: _ld_abs,
    OpKind.LD_IND: _ld_ind,
    OpKind.LDX: _ldx,
    OpKind.LDX_SX: _ldx,
    OpKind.ST: _st,
    OpKind.STX: _stx,
    OpKind.ATOMIC: _atomic,
}
assert set(_FORMATTERS) == set(OpKind)


def disassemble(insns: list[Insn]) -> list[str]:
    """One line of text per instruction."""
    return [format_insn(i) for i in insns]


def listing(insns: Iterable[Insn]) -> str:
    """An ``llvm-objdump -d`` style listing: slot, bytes, text."""
    insns = list(insns)
    lines = []
    for pc, insn in zip(slot_pcs(insns), insns, strict=True):
        raw = " ".join(f"{b:02x}" for b in encode_insn(insn))
        lines.append(f"{pc:>8}:\t{raw}\t{format_insn(insn)}")
    return "\n".join(lines)


__all__ = ["disassemble", "format_insn", "listing"]
