"""Operator spellings shared by the assembler and the disassembler (LLVM/kernel syntax)."""

from __future__ import annotations

from bpfvm.isa.opcodes import AluOp, AtomicOp, JmpOp, Size

ALU_OPS: dict[AluOp, str] = {
    AluOp.ADD: "+=",
    AluOp.SUB: "-=",
    AluOp.MUL: "*=",
    AluOp.DIV: "/=",
    AluOp.OR: "|=",
    AluOp.AND: "&=",
    AluOp.LSH: "<<=",
    AluOp.RSH: ">>=",
    AluOp.MOD: "%=",
    AluOp.XOR: "^=",
    AluOp.ARSH: "s>>=",
}
SIGNED_ALU_OPS: dict[AluOp, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}

JMP_OPS: dict[JmpOp, str] = {
    JmpOp.JEQ: "==",
    JmpOp.JNE: "!=",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSGT: "s>",
    JmpOp.JSGE: "s>=",
    JmpOp.JSLT: "s<",
    JmpOp.JSLE: "s<=",
    JmpOp.JSET: "&",
}

SIZE_NAMES: dict[Size, str] = {Size.B: "8", Size.H: "16", Size.W: "32", Size.DW: "64"}

# Non-fetching read-modify-write atomics: ``lock *(u64 *)(r1 + 0) += r2``.
ATOMIC_LOCK_OPS: dict[int, str] = {
    AtomicOp.ADD: "+=",
    AtomicOp.OR: "|=",
    AtomicOp.AND: "&=",
    AtomicOp.XOR: "^=",
}
# Fetching atomics: ``r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)``.
ATOMIC_FETCH_OPS: dict[int, str] = {
    AtomicOp.FETCH_ADD: "add",
    AtomicOp.FETCH_OR: "or",
    AtomicOp.FETCH_AND: "and",
    AtomicOp.FETCH_XOR: "xor",
}
