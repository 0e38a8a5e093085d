"""Assembler and disassembler: kernel/LLVM syntax and the uBPF (bpf_conformance) dialect."""

from bpfvm.asm.disasm import disassemble, format_insn, listing
from bpfvm.asm.parser import assemble

__all__ = ["assemble", "disassemble", "format_insn", "listing"]
