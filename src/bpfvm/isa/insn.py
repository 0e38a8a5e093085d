"""The decoded instruction record.

``struct bpf_insn`` is 8 bytes: ``code:u8, dst_reg:4, src_reg:4, off:s16, imm:s32``. A
``ld_imm64`` is one :class:`Insn` occupying two slots; the second slot's ``imm`` is kept in
``imm_hi``. Jump offsets and instruction indexes everywhere in bpfvm count *slots*, as the
kernel does.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.isa.opcodes import InsnClass, Mode, Size
from bpfvm.isa.spec import OPCODES, OpSpec

LD_IMM64_CODE = InsnClass.LD | Mode.IMM | Size.DW


@dataclass(frozen=True, slots=True)
class Insn:
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    imm_hi: int = 0  # second slot's imm, ld_imm64 only

    @property
    def spec(self) -> OpSpec | None:
        return OPCODES.get(self.code)

    @property
    def width(self) -> int:
        """Number of 8-byte slots the instruction occupies."""
        return 2 if self.code == LD_IMM64_CODE else 1

    @property
    def imm64(self) -> int:
        """The 64-bit immediate of a ld_imm64 (unsigned)."""
        return (self.imm & 0xFFFFFFFF) | ((self.imm_hi & 0xFFFFFFFF) << 32)


def ld_imm64(dst: int, value: int, src: int = 0) -> Insn:
    """Build a ld_imm64 from a 64-bit value (either signedness accepted)."""
    value &= 0xFFFFFFFFFFFFFFFF
    return Insn(LD_IMM64_CODE, dst, src, 0, _s32(value & 0xFFFFFFFF), _s32(value >> 32))


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def slot_pcs(insns: list[Insn]) -> list[int]:
    """The slot index of each instruction."""
    pcs = []
    pc = 0
    for insn in insns:
        pcs.append(pc)
        pc += insn.width
    return pcs
