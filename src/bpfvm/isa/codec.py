"""Bytes <-> instructions (little-endian ``struct bpf_insn``)."""

from __future__ import annotations

import struct

from bpfvm.errors import EncodingError
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import INSN_SIZE
from bpfvm.isa.validate import check_fields

_INSN = struct.Struct("<BBhi")


def decode(data: bytes, *, validate: bool = True) -> list[Insn]:
    """Decode a program. With ``validate`` every instruction's encoding is checked.

    Without ``validate`` only what decoding itself needs is checked (whole slots, complete
    ld_imm64 pairs), so that the verifier can report field errors in the kernel's order.
    """
    if len(data) % INSN_SIZE:
        raise EncodingError(
            len(data) // INSN_SIZE,
            f"program size {len(data)} is not a multiple of {INSN_SIZE} bytes",
        )
    if not data:
        raise EncodingError(0, "empty program")
    count = len(data) // INSN_SIZE
    insns: list[Insn] = []
    pc = 0
    while pc < count:
        code, regs, off, imm = _INSN.unpack_from(data, pc * INSN_SIZE)
        dst, src = regs & 0x0F, regs >> 4
        if code == LD_IMM64_CODE:
            if pc + 1 >= count:
                raise EncodingError(pc, "invalid bpf_ld_imm64 insn")
            code2, regs2, off2, imm2 = _INSN.unpack_from(data, (pc + 1) * INSN_SIZE)
            if code2 or regs2 or off2:
                raise EncodingError(pc, "invalid bpf_ld_imm64 insn")
            insn = Insn(code, dst, src, off, imm, imm2)
        else:
            insn = Insn(code, dst, src, off, imm)
        if validate:
            msg = check_fields(insn)
            if msg is not None:
                raise EncodingError(pc, msg)
        insns.append(insn)
        pc += insn.width
    return insns


def encode_insn(insn: Insn) -> bytes:
    out = _INSN.pack(insn.code, (insn.dst & 0xF) | ((insn.src & 0xF) << 4), insn.off, insn.imm)
    if insn.width == 2:
        out += _INSN.pack(0, 0, 0, insn.imm_hi)
    return out


def encode(insns: list[Insn]) -> bytes:
    return b"".join(encode_insn(i) for i in insns)
