"""Reading eBPF ELF objects with pyelftools.

This is the first layer of the loader: it finds the executable sections and the programs in
them the way libbpf does (each global function symbol in an executable section other than
``.text`` is a program; a section without function symbols is one program) and hands back
their raw instruction bytes. Relocations, maps and BTF are applied by later stages. Every
malformation becomes one :class:`~bpfvm.errors.InputError` line, never a traceback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from elftools.common.exceptions import ELFError, ELFParseError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import Section, SymbolTableSection

from bpfvm.errors import InputError

EM_BPF = 247
EM_NONE = 0  # some old objects (OVS) carry no machine type


@dataclass(frozen=True)
class ElfProgram:
    section: str
    name: str
    offset: int  # byte offset of the program in its section
    code: bytes


def _exec_sections(elf: ELFFile) -> dict[int, Section]:
    out = {}
    for idx, sec in enumerate(elf.iter_sections()):
        if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
            out[idx] = sec
    return out


def read_programs(data: bytes, source: str = "<elf>") -> list[ElfProgram]:
    """The programs of an eBPF object, in section then offset order."""
    try:
        return _read(data)
    except (ELFError, ELFParseError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise InputError(f"{source}: malformed ELF object: {exc}") from None
    except Exception as exc:  # pyelftools raises bare struct/construct errors on truncation
        raise InputError(f"{source}: malformed ELF object: {type(exc).__name__}: {exc}") from None


def _read(data: bytes) -> list[ElfProgram]:
    elf = ELFFile(io.BytesIO(data))
    if elf["e_machine"] not in ("EM_BPF", EM_BPF, "EM_NONE", EM_NONE):
        raise InputError(f"not an eBPF object (machine {elf['e_machine']})")
    if elf.little_endian is False:
        raise InputError("big-endian eBPF objects are not supported")
    sections = _exec_sections(elf)
    funcs: dict[int, list[tuple[int, str, int]]] = {idx: [] for idx in sections}
    symtab = elf.get_section_by_name(".symtab")
    if isinstance(symtab, SymbolTableSection):
        for sym in symtab.iter_symbols():
            shndx = sym["st_shndx"]
            info = sym["st_info"]
            is_func = info["type"] == "STT_FUNC" or (
                info["type"] == "STT_NOTYPE" and info["bind"] == "STB_GLOBAL"
            )
            if is_func and isinstance(shndx, int) and shndx in funcs:
                funcs[shndx].append((sym["st_value"], sym.name, sym["st_size"]))
    programs = []
    for idx, sec in sections.items():
        body = sec.data()
        if len(body) % 8:
            raise InputError(f"section {sec.name} size {len(body)} is not a multiple of 8")
        if not body:
            continue
        syms = sorted(funcs[idx])
        if not syms:
            programs.append(ElfProgram(sec.name, sec.name, 0, body))
            continue
        for i, (value, name, size) in enumerate(syms):
            if size == 0:  # old objects: a program runs to the next one or the section end
                size = (syms[i + 1][0] if i + 1 < len(syms) else len(body)) - value
            if value % 8 or size % 8 or value + size > len(body):
                raise InputError(f"symbol {name} lies outside section {sec.name}")
            programs.append(ElfProgram(sec.name, name, value, body[value : value + size]))
    return programs
