"""The eBPF instruction set: opcode table, instruction records, codec and validation."""

from bpfvm.isa.codec import decode, encode, encode_insn
from bpfvm.isa.insn import Insn, ld_imm64, slot_pcs
from bpfvm.isa.spec import KERNEL_OPCODES, OPCODES, OpKind, OpSpec
from bpfvm.isa.validate import check_fields

__all__ = [
    "KERNEL_OPCODES",
    "OPCODES",
    "Insn",
    "OpKind",
    "OpSpec",
    "check_fields",
    "decode",
    "encode",
    "encode_insn",
    "ld_imm64",
    "slot_pcs",
]
