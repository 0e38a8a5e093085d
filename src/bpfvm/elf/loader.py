"""Loading an eBPF object file into :class:`~bpfvm.program.Program` values, as libbpf does.

Order of work (``bpf_object__open``): read the ELF file; the ``license`` and ``version``
sections; BTF (``.BTF``, ``.BTF.ext``) when present; map definitions (legacy ``maps``,
BTF-defined ``.maps``, then global data, then ``.kconfig``); the functions of every executable
section; CO-RE relocations on the section instructions; finally each program (every function
outside ``.text``) is linked with the subprograms it reaches (:mod:`bpfvm.elf.link`). The
program type and expected attach type come from the section name (:mod:`bpfvm.elf.sections`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bpfvm.btf import Btf
from bpfvm.elf import btfmaps
from bpfvm.elf.link import DataRef, Function, Linker, Placement, encode_slots, section_slots
from bpfvm.elf.maps import global_data_map, is_global_data, legacy_maps
from bpfvm.elf.objfile import ObjectFile, Reloc, Section, read_object
from bpfvm.elf.sections import classify_section
from bpfvm.errors import BpfvmError, EncodingError, InputError
from bpfvm.isa.codec import decode
from bpfvm.isa.insn import Insn
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import ProgType


@dataclass(frozen=True)
class BpfObject:
    """An opened object: its programs (linked, ready to verify) and its maps."""

    source: str
    programs: tuple[Program, ...]
    maps: tuple[MapSpec, ...]
    license: str = ""
    kern_version: int = 0
    btf: Btf | None = field(default=None, compare=False)
    broken: dict[str, str] = field(default_factory=dict)  # program -> why it failed to link

    def program(self, name: str) -> Program:
        for prog in self.programs:
            if prog.name == name:
                return prog
        if name in self.broken:
            raise InputError(f"{self.source}: {self.broken[name]}")
        names = ", ".join(p.name for p in self.programs) or "none"
        raise InputError(f"{self.source}: no program named '{name}' (programs: {names})")

    def map_index(self, name: str) -> int:
        for i, spec in enumerate(self.maps):
            if spec.name == name:
                return i
        names = ", ".join(m.name for m in self.maps) or "none"
        raise InputError(f"{self.source}: no map named '{name}' (maps: {names})")


def load_object(data: bytes, source: str = "<elf>", *, target_btf: Btf | None = None) -> BpfObject:
    """Open an object file; every problem becomes one :class:`InputError` line."""
    try:
        return _Loader(read_object(data, source), target_btf).load()
    except InputError as exc:
        text = str(exc)
        raise InputError(text if text.startswith(source) else f"{source}: {text}") from None
    except BpfvmError:
        raise
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: malformed object: {type(exc).__name__}: {exc}") from None


BPF_OBJ_NAME_LEN = 16


def object_name(source: str) -> str:
    """libbpf's object name: the file's base name up to its first dot."""
    return source.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]


def internal_map(spec: MapSpec, obj_name: str) -> MapSpec:
    """``spec`` with the kernel name libbpf's ``internal_map_name`` gives a global data or
    ``.kconfig`` map: up to 8 characters of the object's name, then the section name (at
    least 7 characters of room), no prefix when the section name has a second dot; characters
    the kernel refuses become ``_``."""
    real = spec.name
    sfx_len = min(max(7, len(real)), BPF_OBJ_NAME_LEN - 1)
    pfx_len = 0 if "." in real[1:] else min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = (obj_name[:pfx_len] + real[:sfx_len])[: BPF_OBJ_NAME_LEN - 1]
    name = "".join(c if (c.isascii() and c.isalnum()) or c in "_." else "_" for c in name)
    return replace(spec, kernel_name=name)


def section_functions(obj: ObjectFile, sec: Section) -> list[Function]:
    """The functions of an executable section (libbpf: FUNC or global NOTYPE symbols)."""
    nslots = len(sec.data) // 8
    syms = sorted(
        (s.value, s.name, s.size)
        for s in obj.symbols_in(sec.index)
        if s.type == "STT_FUNC" or (s.type == "STT_NOTYPE" and s.bind == "STB_GLOBAL")
    )
    if not syms:
        return [Function(sec, sec.name, 0, nslots)] if nslots else []
    out = []
    for i, (value, name, size) in enumerate(syms):
        if size == 0:  # old objects: a program runs to the next one or the section end
            size = (syms[i + 1][0] if i + 1 < len(syms) else len(sec.data)) - value
        if value % 8 or size % 8 or value + size > len(sec.data):
            raise InputError(f"symbol {name} lies outside section {sec.name}")
        if size:
            out.append(Function(sec, name, value // 8, size // 8))
    return out


class _Loader:
    def __init__(self, obj: ObjectFile, target_btf: Btf | None) -> None:
        self.obj = obj
        self.target_btf = target_btf
        self.maps: list[MapSpec] = []
        self.map_syms: dict[tuple[int, int], int] = {}  # (section, symbol value) -> map index
        self.data_maps: dict[int, int] = {}  # section index -> global data map index
        self.btf: Btf | None = None
        self.ext: btfmaps.BtfExtInfo | None = None

    def load(self) -> BpfObject:
        obj = self.obj
        license_ = self._license()
        version = self._version()
        self.btf, self.ext = btfmaps.read_btf(obj)
        self._collect_maps()
        functions = {
            sec.index: section_functions(obj, sec)
            for sec in obj.sections
            if sec.executable and sec.data
        }
        slots = {idx: section_slots(obj.sections[idx]) for idx in functions}
        if self.ext is not None:
            btfmaps.apply_core(self.ext, obj, slots, self.btf, self.target_btf)
        linker = Linker(obj, functions, slots, self._resolve_data, self._resolve_kfunc)
        mains = [f for idx, fs in functions.items() for f in fs if fs[0].section.name != ".text"]
        text_only = not mains
        if text_only:  # objects whose only code is .text: every uncalled function is a program
            mains = list(functions.get(self._text_index(), []))
        programs: list[Program] = []
        broken: dict[str, str] = {}
        callees: set[Function] = set()
        for main in mains:
            try:
                linked, placements = linker.link(main)
                insns = decode(encode_slots(linked), validate=False)
            except InputError as exc:  # libbpf fails on it; the other programs stay usable
                broken[main.name] = str(exc)
                continue
            except EncodingError as exc:
                broken[main.name] = f"prog '{main.name}': {exc}"
                continue
            callees.update(p.function for p in placements[1:])
            programs.append(self._program(main, tuple(insns), placements, license_, version))
        if text_only:
            programs = [p for p in programs if not any(c.name == p.name for c in callees)]
        maps = tuple(self.maps)
        return BpfObject(obj.source, tuple(programs), maps, license_, version, self.btf, broken)

    def _program(
        self, main: Function, insns: tuple[Insn, ...], placements: list[Placement],
        license_: str, version: int,
    ) -> Program:  # fmt: skip
        kind = classify_section(main.section.name)
        return Program(
            name=main.name,
            insns=insns,
            prog_type=kind.prog_type if kind else ProgType.UNSPEC,
            expected_attach_type=kind.expected_attach_type if kind else None,
            section=main.section.name,
            attach_to=kind.attach_to if kind else "",
            sleepable=kind.sleepable if kind else False,
            license=license_,
            kern_version=version,
            maps=tuple(self.maps),
            func_starts=tuple(sorted(p.base for p in placements)),
            line_info=btfmaps.line_info(self.ext, placements) if self.ext else (),
            func_info=btfmaps.func_info(self.ext, placements) if self.ext else (),
            btf=self.btf,
        )

    def _text_index(self) -> int:
        text = self.obj.section(".text")
        return text.index if text else -1

    def _license(self) -> str:
        sec = self.obj.section("license")
        if sec is None:
            return ""
        return sec.data.split(b"\0", 1)[0].decode("utf-8", "replace")

    def _version(self) -> int:
        sec = self.obj.section("version")
        if sec is None:
            return 0
        if len(sec.data) != 4:
            raise InputError(f"invalid kver section in {self.obj.source}")
        return int.from_bytes(sec.data, "little")

    def _add_map(self, spec: MapSpec) -> int:
        if any(m.name == spec.name for m in self.maps):
            raise InputError(f"map '{spec.name}' is defined twice")
        self.maps.append(spec)
        return len(self.maps) - 1

    def _collect_maps(self) -> None:
        obj = self.obj
        legacy = [s for s in obj.sections if s.name == "maps" or s.name.startswith("maps/")]
        for sec, offset, spec in legacy_maps(obj, legacy):  # "maps", or old "maps/NAME"
            self.map_syms[(sec.index, offset)] = self._add_map(spec)
        btf_maps = obj.section(".maps")
        if btf_maps is not None:
            if self.btf is None:
                raise InputError("BTF is required, but is missing or corrupted (.maps section)")
            for offset, spec in btfmaps.btf_defined_maps(obj, btf_maps, self.btf):
                self.map_syms[(btf_maps.index, offset)] = self._add_map(spec)
        prefix = object_name(obj.source)
        for sec in obj.sections:
            if is_global_data(sec) and sec.size:
                spec = global_data_map(obj, sec)
                self.data_maps[sec.index] = self._add_map(internal_map(spec, prefix))
        kconfig = btfmaps.kconfig_map(obj, self.btf)
        if kconfig is not None:
            self.data_maps[-2] = self._add_map(internal_map(kconfig, prefix))

    def _resolve_data(self, rel: Reloc, imm: int) -> DataRef | None:
        sym = rel.symbol
        if sym.shndx in self.data_maps:
            return DataRef(self.data_maps[sym.shndx], sym.value + imm)
        if (sym.shndx, sym.value) in self.map_syms:
            return DataRef(self.map_syms[(sym.shndx, sym.value)], None)
        if sym.shndx == 0 and -2 in self.data_maps:  # an extern: a .kconfig variable
            off = btfmaps.kconfig_offset(self.btf, sym.name)
            if off is not None:
                return DataRef(self.data_maps[-2], off)
        return None

    def _resolve_kfunc(self, name: str) -> int | None:
        return btfmaps.kfunc_btf_id(self.target_btf, name)
