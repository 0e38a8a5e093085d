"""The parts of an eBPF ELF object the loader needs, read once with pyelftools.

:func:`read_object` turns the file into plain values: every section (name, type, flags,
bytes), the symbol table, and the relocation entries grouped by the section they apply to.
It checks what the rest of the loader relies on (machine type, byte order, symbol and
section indices in range) so that later stages work on consistent data, and turns every
pyelftools failure into one :class:`~bpfvm.errors.InputError` line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from elftools.common.exceptions import ELFError, ELFParseError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from bpfvm.errors import InputError

EM_BPF = 247
EM_NONE = 0  # some old objects (OVS) carry no machine type
SHN_UNDEF = 0


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    type: str  # "SHT_PROGBITS", "SHT_NOBITS", ...
    size: int
    data: bytes  # empty for SHT_NOBITS
    executable: bool
    writable: bool
    alloc: bool


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str  # "STT_FUNC", "STT_OBJECT", "STT_SECTION", "STT_NOTYPE"
    bind: str  # "STB_GLOBAL", "STB_LOCAL", "STB_WEAK"
    shndx: int  # SHN_UNDEF (0) for externs; special indices become -1


@dataclass(frozen=True)
class Reloc:
    offset: int  # byte offset in the target section
    symbol: Symbol
    type: int


@dataclass(frozen=True)
class ObjectFile:
    source: str
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocs: dict[int, tuple[Reloc, ...]]  # target section index -> entries, by offset

    def section(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def symbols_in(self, shndx: int) -> list[Symbol]:
        return [s for s in self.symbols if s.shndx == shndx and s.type != "STT_SECTION"]


def read_object(data: bytes, source: str = "<elf>") -> ObjectFile:
    try:
        return _read(data, source)
    except InputError:
        raise
    except (ELFError, ELFParseError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise InputError(f"{source}: malformed ELF object: {exc}") from None
    except Exception as exc:  # pyelftools raises bare struct/construct errors on truncation
        raise InputError(f"{source}: malformed ELF object: {type(exc).__name__}: {exc}") from None


def _read(data: bytes, source: str) -> ObjectFile:
    elf = ELFFile(io.BytesIO(data))
    if elf["e_machine"] not in ("EM_BPF", EM_BPF, "EM_NONE", EM_NONE):
        raise InputError(f"{source}: not an eBPF object (machine {elf['e_machine']})")
    if not elf.little_endian:
        raise InputError(f"{source}: big-endian eBPF objects are not supported")
    if elf.elfclass != 64:
        raise InputError(f"{source}: not a 64-bit ELF object")
    sections = []
    for idx, sec in enumerate(elf.iter_sections()):
        nobits = sec["sh_type"] == "SHT_NOBITS"
        flags = sec["sh_flags"]
        body = b"" if nobits else sec.data()
        if not nobits and len(body) != sec["sh_size"]:
            raise InputError(f"{source}: section {sec.name} is truncated")
        sections.append(
            Section(
                idx, sec.name, sec["sh_type"], sec["sh_size"], body,
                bool(flags & SH_FLAGS.SHF_EXECINSTR), bool(flags & SH_FLAGS.SHF_WRITE),
                bool(flags & SH_FLAGS.SHF_ALLOC),
            )
        )  # fmt: skip
    symbols = _symbols(elf, len(sections))
    relocs: dict[int, tuple[Reloc, ...]] = {}
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sec["sh_info"]
        if not 0 < target < len(sections):
            raise InputError(f"{source}: relocation section {sec.name} targets no section")
        entries = []
        for rel in sec.iter_relocations():
            sym_idx = rel["r_info_sym"]
            if sym_idx >= len(symbols):
                raise InputError(
                    f"{source}: relocation in {sec.name} names symbol {sym_idx}, out of range"
                )
            entries.append(Reloc(rel["r_offset"], symbols[sym_idx], rel["r_info_type"]))
        relocs[target] = tuple(sorted(entries, key=lambda r: r.offset))
    return ObjectFile(source, tuple(sections), tuple(symbols), relocs)


def _symbols(elf: ELFFile, nsections: int) -> list[Symbol]:
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        return []
    out = []
    for i, sym in enumerate(symtab.iter_symbols()):
        shndx = sym["st_shndx"]
        if isinstance(shndx, str):
            shndx = SHN_UNDEF if shndx == "SHN_UNDEF" else -1
        elif shndx >= nsections:
            raise InputError(f"symbol {sym.name} lies in section {shndx}, out of range")
        info = sym["st_info"]
        out.append(
            Symbol(i, sym.name, sym["st_value"], sym["st_size"], info["type"], info["bind"], shndx)
        )
    return out
