"""Map definitions of an object: the legacy ``maps`` section and global data sections.

Legacy definitions are ``struct bpf_map_def`` records (type, key_size, value_size,
max_entries, map_flags: 20 bytes), one per symbol of the ``maps`` section, each
``section size / symbol count`` bytes long as libbpf's old loader assumed. The kernel
samples' 28-byte form adds inner_map_idx and numa_node; iproute2's ``struct bpf_elf_map``
(28 or 36 bytes) adds id, pinning, inner_id and inner_idx. The template of a map-in-map is
the map its inner index names.

Global data (``.data``, ``.rodata``, ``.bss`` and their ``.data.*``/``.rodata.*``/``.bss.*``
variants) becomes one single-element array map per section, named after the section, whose
value starts as the section's bytes (zeroes for ``.bss``); read-only data is
``BPF_F_RDONLY_PROG`` as libbpf creates it.
"""

from __future__ import annotations

import struct

from bpfvm.elf.objfile import ObjectFile, Section, Symbol
from bpfvm.errors import InputError
from bpfvm.program.model import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MapSpec
from bpfvm.program.uapi import MapType

BPF_MAP_DEF_SIZE = 20
_GLOBAL_DATA_PREFIXES = (".data", ".rodata", ".bss")


def map_type(value: int, name: str) -> MapType:
    try:
        return MapType(value)
    except ValueError:
        raise InputError(f"map '{name}': unknown map type {value}") from None


def _definitions(obj: ObjectFile, sec: Section) -> list[tuple[Symbol, tuple[int, ...]]]:
    syms = sorted(obj.symbols_in(sec.index), key=lambda s: s.value)
    if not syms:
        return []
    size = len(sec.data) // len(syms)
    if size < BPF_MAP_DEF_SIZE:
        raise InputError(
            f"{obj.source}: {sec.name} section: {len(syms)} definitions of {size} bytes, "
            f"less than struct bpf_map_def ({BPF_MAP_DEF_SIZE})"
        )
    out = []
    for sym in syms:
        if sym.value % 4 or sym.value + size > len(sec.data):
            raise InputError(f"{obj.source}: map '{sym.name}' lies outside section {sec.name}")
        out.append((sym, struct.unpack_from(f"<{size // 4}I", sec.data, sym.value)))
    return out


def legacy_maps(obj: ObjectFile, sections: list[Section]) -> list[tuple[Section, int, MapSpec]]:
    """(section, symbol offset, spec) of each definition in the legacy map sections.

    An inner map index counts the definitions of all these sections in order (PREVAIL's
    objects put each map in its own ``maps/NAME`` section)."""
    raw = [(sec, sym, fields) for sec in sections for sym, fields in _definitions(obj, sec)]
    out = []
    for sec, sym, fields in raw:
        mtype, key_size, value_size, max_entries, flags = fields[:5]
        inner = None
        # the inner map's index: field 5 of the kernel samples' 28-byte bpf_map_def
        # (inner_map_idx, numa_node), field 8 of iproute2's 36-byte bpf_elf_map
        where = 8 if len(fields) >= 9 else 5
        if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS) and len(fields) > where:
            inner_idx = fields[where]
            if inner_idx >= len(raw):
                raise InputError(f"map '{sym.name}': inner map index {inner_idx} out of range")
            _, isym, ifields = raw[inner_idx]
            itype, ikey, ivalue, imax, iflags = ifields[:5]
            inner = MapSpec(isym.name, map_type(itype, isym.name), ikey, ivalue, imax, iflags)
        spec = MapSpec(
            sym.name, map_type(mtype, sym.name), key_size, value_size, max_entries, flags,
            inner=inner, section=sec.name,
        )  # fmt: skip
        out.append((sec, sym.value, spec))
    return out


def is_global_data(sec: Section) -> bool:
    return (
        sec.alloc
        and not sec.executable
        and sec.type in ("SHT_PROGBITS", "SHT_NOBITS")
        and any(sec.name == p or sec.name.startswith(p + ".") for p in _GLOBAL_DATA_PREFIXES)
    )


def global_data_map(obj: ObjectFile, sec: Section) -> MapSpec:
    flags = BPF_F_MMAPABLE
    if sec.name.startswith(".rodata"):
        flags |= BPF_F_RDONLY_PROG
    initial = sec.data if sec.type == "SHT_PROGBITS" else bytes(sec.size)
    offsets = tuple(sorted((s.name, s.value) for s in obj.symbols_in(sec.index) if s.name))
    return MapSpec(
        sec.name, MapType.ARRAY, 4, sec.size, 1, flags, initial=initial, section=sec.name,
        var_offsets=offsets,
    )  # fmt: skip
