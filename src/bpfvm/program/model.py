"""Programs and the maps they use, as front ends (assembler, ELF loader) hand them on.

A :class:`Program` is immutable. Its ``maps`` are the map definitions of the whole object (or of
the ``--maps`` list of a raw program), and a pseudo ``ld_imm64`` names a map the way the kernel's
fd does, by its index in that tuple: ``src=1`` (BPF_PSEUDO_MAP_FD) with ``imm=index`` gives the
map pointer, ``src=2`` (BPF_PSEUDO_MAP_VALUE) with ``imm=index`` and ``imm_hi=offset`` an address
inside the value of a single-element array map (global data). Programs of one object share the
tuple, so they share map instances at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpfvm.isa.insn import Insn
from bpfvm.program.uapi import AttachType, MapType, ProgType

# map_flags bits used by the loader (include/uapi/linux/bpf.h)
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_RDONLY = 1 << 3
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10


@dataclass(frozen=True)
class MapSpec:
    """One map definition (``struct bpf_map_def``/BTF-defined/global data)."""

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int = 0
    map_extra: int = 0  # bloom filter: number of hash functions
    inner: MapSpec | None = None  # the template of array_of_maps/hash_of_maps values
    initial: bytes | None = None  # global data: the section's bytes (value of key 0)
    # `.values` initialisers: slot -> program name (prog_array) or map name (map-in-map)
    init_slots: tuple[tuple[int, str], ...] = ()
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    section: str = ""  # where it came from: ".maps", "maps", ".data", ".rodata.str1.1", ...
    # global data: where each variable lives in the value (ELF symbols; object-file BTF
    # leaves DATASEC offsets 0 until a loader fixes them up, as libbpf's btf_fixup_datasec)
    var_offsets: tuple[tuple[str, int], ...] = ()
    # the name libbpf gives the kernel when it differs from ``name``: global data and
    # ``.kconfig`` maps are prefixed with the object's name (``tc_rewri.bss``)
    kernel_name: str = ""


@dataclass(frozen=True)
class LineInfo:
    """One ``bpf_line_info`` record, resolved to text."""

    insn_off: int  # slot of the first instruction of the line (in the program)
    file: str
    line: int
    col: int
    text: str


@dataclass(frozen=True)
class FuncInfo:
    """One ``bpf_func_info`` record: the BTF ``FUNC`` (in ``Program.btf``) of a subprogram."""

    insn_off: int  # slot of the function's first instruction (in the program)
    type_id: int


@dataclass(frozen=True)
class Program:
    """An eBPF program ready for verification."""

    name: str
    insns: tuple[Insn, ...]
    prog_type: ProgType = ProgType.UNSPEC
    expected_attach_type: AttachType | None = None
    section: str = ""
    attach_to: str = ""  # what the section names after its prefix (function, tracepoint, ...)
    sleepable: bool = False
    license: str = ""
    kern_version: int = 0
    maps: tuple[MapSpec, ...] = ()
    func_starts: tuple[int, ...] = (0,)  # slot index of each subprogram (main first)
    line_info: tuple[LineInfo, ...] = ()
    func_info: tuple[FuncInfo, ...] = ()  # one per subprogram when the object has .BTF.ext
    btf: Any = field(default=None, compare=False)  # bpfvm.btf.Btf of the object, when present

    @property
    def gpl_compatible(self) -> bool:
        """The kernel's ``license_is_gpl_compatible``."""
        return self.license in GPL_COMPATIBLE


GPL_COMPATIBLE = frozenset(
    {"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"}
)
