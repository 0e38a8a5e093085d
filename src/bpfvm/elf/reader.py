"""The raw programs of an eBPF ELF object, before any relocation (what ``llvm-objdump -d``
shows): each function of an executable section, found as libbpf finds them
(:func:`bpfvm.elf.loader.section_functions`). ``bpfvm disasm`` and the conformance plugin use
this; :func:`bpfvm.elf.loader.load_object` is the full loader."""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.elf.loader import section_functions
from bpfvm.elf.objfile import read_object
from bpfvm.errors import InputError


@dataclass(frozen=True)
class ElfProgram:
    section: str
    name: str
    offset: int  # byte offset of the program in its section
    code: bytes


def read_programs(data: bytes, source: str = "<elf>") -> list[ElfProgram]:
    """The functions of every executable section, in section then offset order."""
    obj = read_object(data, source)
    programs = []
    for sec in obj.sections:
        if not (sec.executable and sec.type == "SHT_PROGBITS" and sec.data):
            continue
        if len(sec.data) % 8:
            raise InputError(f"section {sec.name} size {len(sec.data)} is not a multiple of 8")
        for func in section_functions(obj, sec):
            start, end = func.start * 8, (func.start + func.nslots) * 8
            programs.append(ElfProgram(sec.name, func.name, start, sec.data[start:end]))
    return programs
