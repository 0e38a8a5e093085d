"""SPEC.md section 7, messages 1-52, that the case corpus cannot express: malformed encodings
(the assembler refuses to write them), verified through the Python API from raw instructions.

Each expected line is what this machine's 6.18 kernel printed for the same instructions
(loaded with ``bpfvm.kernel.syscall.prog_load`` as root when the test was written); 6.18 still
names the reserved-field checks one opcode at a time (``BPF_NEG uses reserved fields``) where
SPEC.md quotes a newer kernel's merged wording. ``tests/verifier/messages/part1.json`` lists
these as ``api``; the test names carry the message numbers.
"""

from __future__ import annotations

import struct

import pytest

from bpfvm.errors import EncodingError
from bpfvm.isa.codec import decode
from bpfvm.isa.insn import Insn
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import verify

EINVAL = 22
R0_0 = Insn(0xB7, 0, 0, 0, 0)  # r0 = 0
R1_0 = Insn(0xB7, 1, 0, 0, 0)  # r1 = 0
FP_8 = Insn(0x7A, 10, 0, -8, 0)  # *(u64 *)(r10 - 8) = 0
EXIT = Insn(0x95)
I = Insn

# name -> (instructions, the kernel's error line)
RAW: dict[str, tuple[list[Insn], str]] = {
    # 8: unknown opcode
    "8_alu64_op_e0": ([R0_0, I(0xE7, 0, 0, 0, 1), EXIT], "unknown opcode e7"),
    "8_callx": ([R0_0, I(0x8D, 1), EXIT], "unknown opcode 8d"),
    "8_code_00": ([R0_0, I(0x00), EXIT], "unknown opcode 00"),
    "8_alu32_op_f0": ([R0_0, I(0xF4, 0, 0, 0, 1), EXIT], "unknown opcode f4"),
    # 10: BPF_ALU uses reserved fields
    "10_k_with_src": ([R0_0, I(0x07, 0, 1, 0, 1), EXIT], "BPF_ALU uses reserved fields"),
    "10_x_with_imm": ([R0_0, R1_0, I(0x0F, 0, 1, 0, 1), EXIT], "BPF_ALU uses reserved fields"),
    "10_add_off_1": ([R0_0, I(0x07, 0, 0, 1, 1), EXIT], "BPF_ALU uses reserved fields"),
    "10_div_off_2": ([R0_0, I(0x37, 0, 0, 2, 1), EXIT], "BPF_ALU uses reserved fields"),
    # 11: BPF_NEG/END/MOV uses reserved fields (6.18: one message per opcode)
    "11_neg_src": ([R0_0, I(0x87, 0, 1), EXIT], "BPF_NEG uses reserved fields"),
    "11_neg_imm": ([R0_0, I(0x87, 0, 0, 0, 1), EXIT], "BPF_NEG uses reserved fields"),
    "11_mov_k_src": ([I(0xB7, 0, 1, 0, 0), EXIT], "BPF_MOV uses reserved fields"),
    "11_mov_k_off": ([I(0xB7, 0, 0, 8, 0), EXIT], "BPF_MOV uses reserved fields"),
    "11_mov_x_off_3": ([R0_0, I(0xBF, 1, 0, 3), R0_0, EXIT], "BPF_MOV uses reserved fields"),
    "11_mov32_sx_32": ([R0_0, I(0xBC, 1, 0, 32), R0_0, EXIT], "BPF_MOV uses reserved fields"),
    "11_end_imm_8": ([R0_0, I(0xD4, 0, 0, 0, 8), EXIT], "BPF_END uses reserved fields"),
    "11_end_src": ([R0_0, I(0xD4, 0, 1, 0, 16), EXIT], "BPF_END uses reserved fields"),
    # 12: BPF_CALL/JA/EXIT uses reserved fields (6.18: one message per opcode)
    "12_ja_imm": ([R0_0, I(0x05, 0, 0, 0, 1), EXIT], "BPF_JA uses reserved fields"),
    "12_ja_src": ([R0_0, I(0x05, 0, 1, 0, 0), EXIT], "BPF_JA uses reserved fields"),
    "12_exit_dst": ([R0_0, I(0x95, 1)], "BPF_EXIT uses reserved fields"),
    "12_exit_src": ([R0_0, I(0x95, 0, 1)], "BPF_EXIT uses reserved fields"),
    "12_exit_imm": ([R0_0, I(0x95, 0, 0, 0, 1)], "BPF_EXIT uses reserved fields"),
    "12_call_dst": ([I(0x85, 1, 0, 0, 7), EXIT], "BPF_CALL uses reserved fields"),
    "12_call_off": ([I(0x85, 0, 0, 1, 7), EXIT], "BPF_CALL uses reserved fields"),
    "12_call_src_3": ([I(0x85, 0, 3, 0, 7), EXIT], "BPF_CALL uses reserved fields"),
    # 13: BPF_JMP/JMP32 uses reserved fields
    "13_jeq_k_src": ([R0_0, I(0x15, 0, 1, 0, 0), EXIT], "BPF_JMP/JMP32 uses reserved fields"),
    "13_jeq_x_imm": (
        [R0_0, R1_0, I(0x1D, 0, 1, 0, 5), EXIT],
        "BPF_JMP/JMP32 uses reserved fields",
    ),
    "13_jmp32_k_src": ([R0_0, I(0x16, 0, 1, 0, 0), EXIT], "BPF_JMP/JMP32 uses reserved fields"),
    # 14: BPF_LDX/STX/ST uses reserved fields (6.18: one message per class)
    "14_ldx_imm": ([R0_0, FP_8, I(0x79, 0, 10, -8, 1), EXIT], "BPF_LDX uses reserved fields"),
    "14_ldx_mode": ([R0_0, FP_8, I(0x39, 0, 10, -8, 0), EXIT], "BPF_LDX uses reserved fields"),
    "14_st_src": ([R0_0, I(0x7A, 10, 1, -8, 0), EXIT], "BPF_ST uses reserved fields"),
    "14_stx_imm": ([R0_0, I(0x7B, 10, 0, -8, 1), EXIT], "BPF_STX uses reserved fields"),
    # 16: unrecognized bpf_ld_imm64 insn
    "16_pseudo_src_7": ([I(0x18, 0, 7, 0, 0), EXIT], "unrecognized bpf_ld_imm64 insn"),
    # 17: R%d is invalid
    "17_mov_r11": ([R0_0, I(0xB7, 11), EXIT], "R11 is invalid"),
    "17_src_r12": ([R0_0, I(0xBF, 0, 12), EXIT], "R12 is invalid"),
    "17_jeq_r11": ([R0_0, I(0x15, 11, 0, 0, 0), EXIT], "R11 is invalid"),
    # 21: invalid may_goto imm
    "21_may_goto_imm": ([R0_0, I(0xE5, 0, 0, 0, 1), EXIT], "invalid may_goto imm 1"),
    "21_may_goto_dst": ([R0_0, I(0xE5, 1, 0, 0, 0), EXIT], "invalid may_goto imm 0"),
    # 29: addr_space_cast insn can only convert between address space 1 and 0
    "29_cast_imm_2": (
        [R0_0, R1_0, I(0xBF, 1, 1, 1, 2), EXIT],
        "addr_space_cast insn can only convert between address space 1 and 0",
    ),
    "29_cast_no_arena": (
        [R0_0, R1_0, I(0xBF, 1, 1, 1, 1), EXIT],
        "addr_space_cast insn can only be used in a program that has an associated arena",
    ),
    # 48: invalid atomic operand size
    "48_atomic_add_b": (
        [R0_0, FP_8, R1_0, I(0xD3, 10, 1, -8, 0), EXIT],
        "invalid atomic operand size",
    ),
    "48_atomic_add_h": (
        [R0_0, FP_8, R1_0, I(0xCB, 10, 1, -8, 0), EXIT],
        "invalid atomic operand size",
    ),
    # 49: BPF_ATOMIC uses invalid atomic opcode %02x
    "49_atomic_op_99": (
        [R0_0, FP_8, R1_0, I(0xDB, 10, 1, -8, 0x99), EXIT],
        "BPF_ATOMIC uses invalid atomic opcode 99",
    ),
    "49_atomic_op_10": (
        [R0_0, FP_8, R1_0, I(0xC3, 10, 1, -8, 0x10), EXIT],
        "BPF_ATOMIC uses invalid atomic opcode 10",
    ),
}


@pytest.mark.parametrize("name", sorted(RAW))
def test_malformed_encoding(name: str) -> None:
    insns, expected = RAW[name]
    prog = Program(name=name[:15], insns=tuple(insns), prog_type=ProgType.SOCKET_FILTER)
    r = verify(prog)
    assert (r.accepted, r.error, r.errno) == (False, expected, EINVAL)
    assert r.processed_insns <= len(insns)


def _slot(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


@pytest.mark.parametrize(
    "second",
    [_slot(0x18), _slot(0, 1), _slot(0, 0, 0, 1)],
    ids=["code", "regs", "off"],
)
def test_15_ld_imm64_bad_second_slot(second: bytes) -> None:
    """A malformed second slot cannot be held by an ``Insn``: the decoder refuses it, in the
    kernel's words (the kernel: ``invalid bpf_ld_imm64 insn``, EINVAL)."""
    data = _slot(0x18) + second + _slot(0x95)
    with pytest.raises(EncodingError, match="invalid bpf_ld_imm64 insn"):
        decode(data, validate=False)
