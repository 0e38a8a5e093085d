"""Instruction constructors for rewrites, named after the kernel's ``filter.h`` macros
(``BPF_MOV64_REG``, ``BPF_JMP_IMM``, ``BPF_LDX_MEM``, ...)."""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, CallSrc, InsnClass, JmpOp, Mode, Size, Source

SIZE_CODE = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}


def alu64_reg(op: AluOp, dst: int, src: int) -> Insn:
    return Insn(InsnClass.ALU64 | op | Source.X, dst, src)


def alu32_reg(op: AluOp, dst: int, src: int) -> Insn:
    return Insn(InsnClass.ALU | op | Source.X, dst, src)


def alu64_imm(op: AluOp, dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU64 | op | Source.K, dst, 0, 0, imm)


def alu32_imm(op: AluOp, dst: int, imm: int) -> Insn:
    return Insn(InsnClass.ALU | op | Source.K, dst, 0, 0, imm)


def alu_imm(is64: bool, op: AluOp, dst: int, imm: int) -> Insn:
    return alu64_imm(op, dst, imm) if is64 else alu32_imm(op, dst, imm)


def mov64_reg(dst: int, src: int) -> Insn:
    return alu64_reg(AluOp.MOV, dst, src)


def mov32_reg(dst: int, src: int) -> Insn:
    return alu32_reg(AluOp.MOV, dst, src)


def mov64_imm(dst: int, imm: int) -> Insn:
    return alu64_imm(AluOp.MOV, dst, imm)


def mov32_imm(dst: int, imm: int) -> Insn:
    return alu32_imm(AluOp.MOV, dst, imm)


def movsx64(dst: int, src: int, bits: int) -> Insn:
    return Insn(InsnClass.ALU64 | AluOp.MOV | Source.X, dst, src, bits)


def neg(is64: bool, dst: int) -> Insn:
    return Insn((InsnClass.ALU64 if is64 else InsnClass.ALU) | AluOp.NEG, dst)


def jmp_imm(op: JmpOp, dst: int, imm: int, off: int, is64: bool = True) -> Insn:
    return Insn((InsnClass.JMP if is64 else InsnClass.JMP32) | op | Source.K, dst, 0, off, imm)


def jmp_reg(op: JmpOp, dst: int, src: int, off: int, is64: bool = True) -> Insn:
    return Insn((InsnClass.JMP if is64 else InsnClass.JMP32) | op | Source.X, dst, src, off)


def ja(off: int) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.JA, 0, 0, off)


def gotol(imm: int) -> Insn:
    return Insn(InsnClass.JMP32 | JmpOp.JA, 0, 0, 0, imm)


def ldx_mem(size: int, dst: int, src: int, off: int, signed: bool = False) -> Insn:
    mode = Mode.MEMSX if signed else Mode.MEM
    return Insn(InsnClass.LDX | mode | SIZE_CODE[size], dst, src, off)


def stx_mem(size: int, dst: int, src: int, off: int) -> Insn:
    return Insn(InsnClass.STX | Mode.MEM | SIZE_CODE[size], dst, src, off)


def st_mem(size: int, dst: int, off: int, imm: int) -> Insn:
    return Insn(InsnClass.ST | Mode.MEM | SIZE_CODE[size], dst, 0, off, imm)


def call_rel(imm: int) -> Insn:
    """A bpf-to-bpf call ``imm`` slots past the next instruction."""
    return Insn(InsnClass.JMP | JmpOp.CALL, 0, CallSrc.PSEUDO_CALL, 0, imm)


def call_helper(imm: int) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.CALL, 0, CallSrc.HELPER, 0, imm)


NOP = ja(0)
