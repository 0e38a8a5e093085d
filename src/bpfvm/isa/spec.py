"""The opcode specification table: every opcode byte bpfvm knows, listed once.

Assembler, disassembler, validator, interpreter (and later CFG, verifier and JIT) all derive
from :data:`OPCODES`. The set of opcodes is the kernel's public instruction table
(``core.c: bpf_opcode_in_insntable``, checked against Linux 6.18 by
``tests/kernel/test_isa_vs_kernel.py``) plus ``callx`` (``JMP | CALL | X``), which the
kernel refuses (``unknown opcode 8d``) but the conformance suite exercises; it is marked
``kernel=False`` so that the verifier can refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from bpfvm.isa.opcodes import AluOp, InsnClass, JmpOp, Mode, Size, Source


class OpKind(Enum):
    """Operand shape and semantics family of an opcode."""

    ALU = auto()  # dst op= src/imm
    NEG = auto()  # dst = -dst
    MOV = auto()  # dst = src/imm, movsx with off 8/16/32
    END = auto()  # le/be byte order conversion (class ALU)
    BSWAP = auto()  # unconditional byte swap (class ALU64 END)
    JA = auto()  # goto +off
    GOTOL = auto()  # goto +imm (JMP32 JA)
    JCOND = auto()  # may_goto +off
    JCC = auto()  # conditional jump
    CALL = auto()  # helper / bpf-to-bpf / kfunc call
    CALLX = auto()  # call through a register (not accepted by the kernel)
    EXIT = auto()
    LD_IMM64 = auto()  # two-slot 64-bit immediate load
    LD_ABS = auto()  # legacy packet load, absolute offset
    LD_IND = auto()  # legacy packet load, register + offset
    LDX = auto()  # dst = *(size *)(src + off)
    LDX_SX = auto()  # sign-extending load
    ST = auto()  # *(size *)(dst + off) = imm
    STX = auto()  # *(size *)(dst + off) = src
    ATOMIC = auto()  # STX | ATOMIC: imm selects the operation


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One opcode byte: its fields decoded and what kind of instruction it is."""

    code: int
    kind: OpKind
    cls: InsnClass
    source: Source | None = None
    alu_op: AluOp | None = None
    jmp_op: JmpOp | None = None
    size: Size | None = None
    mode: Mode | None = None
    kernel: bool = True

    @property
    def is64(self) -> bool:
        """64-bit ALU or compare (ALU64 / JMP class)."""
        return self.cls in (InsnClass.ALU64, InsnClass.JMP)

    @property
    def uses_src_reg(self) -> bool:
        return self.source is Source.X


ALU_BINARY_OPS = (
    AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND,
    AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.ARSH,
)  # fmt: skip
COND_JMP_OPS = (
    JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT,
    JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE,
)  # fmt: skip
ALL_SIZES = (Size.W, Size.H, Size.B, Size.DW)
LEGACY_SIZES = (Size.W, Size.H, Size.B)


def _build() -> dict[int, OpSpec]:
    table: dict[int, OpSpec] = {}

    def add(spec: OpSpec) -> None:
        assert spec.code not in table, hex(spec.code)
        table[spec.code] = spec

    for cls in (InsnClass.ALU, InsnClass.ALU64):
        for src in Source:
            for op in (*ALU_BINARY_OPS, AluOp.MOV):
                kind = OpKind.MOV if op is AluOp.MOV else OpKind.ALU
                add(OpSpec(cls | src | op, kind, cls, source=src, alu_op=op))
        add(OpSpec(cls | AluOp.NEG, OpKind.NEG, cls, source=Source.K, alu_op=AluOp.NEG))
    # END: in class ALU the source bit selects to_le (K) / to_be (X); in ALU64 only the
    # K form exists and means an unconditional swap.
    for src in Source:
        add(OpSpec(InsnClass.ALU | AluOp.END | src, OpKind.END, InsnClass.ALU, src, AluOp.END))
    add(OpSpec(InsnClass.ALU64 | AluOp.END, OpKind.BSWAP, InsnClass.ALU64, Source.K, AluOp.END))

    for cls in (InsnClass.JMP, InsnClass.JMP32):
        for src in Source:
            for jop in COND_JMP_OPS:
                add(OpSpec(cls | src | jop, OpKind.JCC, cls, source=src, jmp_op=jop))
    add(OpSpec(InsnClass.JMP | JmpOp.JA, OpKind.JA, InsnClass.JMP, Source.K, jmp_op=JmpOp.JA))
    add(
        OpSpec(InsnClass.JMP32 | JmpOp.JA, OpKind.GOTOL, InsnClass.JMP32, Source.K, jmp_op=JmpOp.JA)
    )
    add(
        OpSpec(
            InsnClass.JMP | JmpOp.JCOND, OpKind.JCOND, InsnClass.JMP, Source.K, jmp_op=JmpOp.JCOND
        )
    )
    add(OpSpec(InsnClass.JMP | JmpOp.CALL, OpKind.CALL, InsnClass.JMP, Source.K, jmp_op=JmpOp.CALL))
    add(
        OpSpec(
            InsnClass.JMP | JmpOp.CALL | Source.X,
            OpKind.CALLX,
            InsnClass.JMP,
            Source.X,
            jmp_op=JmpOp.CALL,
            kernel=False,
        )
    )
    add(OpSpec(InsnClass.JMP | JmpOp.EXIT, OpKind.EXIT, InsnClass.JMP, Source.K, jmp_op=JmpOp.EXIT))

    add(
        OpSpec(
            InsnClass.LD | Mode.IMM | Size.DW,
            OpKind.LD_IMM64,
            InsnClass.LD,
            size=Size.DW,
            mode=Mode.IMM,
        )
    )
    for size in LEGACY_SIZES:
        add(
            OpSpec(
                InsnClass.LD | Mode.ABS | size,
                OpKind.LD_ABS,
                InsnClass.LD,
                size=size,
                mode=Mode.ABS,
            )
        )
        add(
            OpSpec(
                InsnClass.LD | Mode.IND | size,
                OpKind.LD_IND,
                InsnClass.LD,
                Source.X,
                size=size,
                mode=Mode.IND,
            )
        )
        add(
            OpSpec(
                InsnClass.LDX | Mode.MEMSX | size,
                OpKind.LDX_SX,
                InsnClass.LDX,
                Source.X,
                size=size,
                mode=Mode.MEMSX,
            )
        )
    for size in ALL_SIZES:
        add(
            OpSpec(
                InsnClass.LDX | Mode.MEM | size,
                OpKind.LDX,
                InsnClass.LDX,
                Source.X,
                size=size,
                mode=Mode.MEM,
            )
        )
        add(
            OpSpec(
                InsnClass.ST | Mode.MEM | size,
                OpKind.ST,
                InsnClass.ST,
                Source.K,
                size=size,
                mode=Mode.MEM,
            )
        )
        add(
            OpSpec(
                InsnClass.STX | Mode.MEM | size,
                OpKind.STX,
                InsnClass.STX,
                Source.X,
                size=size,
                mode=Mode.MEM,
            )
        )
        add(
            OpSpec(
                InsnClass.STX | Mode.ATOMIC | size,
                OpKind.ATOMIC,
                InsnClass.STX,
                Source.X,
                size=size,
                mode=Mode.ATOMIC,
            )
        )
    return table


OPCODES: dict[int, OpSpec] = _build()
"""Opcode byte -> specification, for every opcode bpfvm decodes."""

KERNEL_OPCODES: frozenset[int] = frozenset(c for c, s in OPCODES.items() if s.kernel)
"""The opcode bytes the kernel's ``bpf_opcode_in_insntable`` accepts."""
