"""ELF objects built by ``clang -target bpf``: sections, symbols and program extraction."""

from bpfvm.elf.reader import ElfProgram, read_programs

__all__ = ["ElfProgram", "read_programs"]
