"""The loader's uses of BTF: BTF-defined maps, ``.kconfig`` externs, CO-RE and line info.

BTF-defined maps (libbpf's ``parse_btf_map_def``): the ``.maps`` DATASEC lists one VAR per
map, whose type is a struct of members encoding the definition. ``__uint(name, n)`` is a
member of type ``int (*)[n]`` (a pointer to an array of ``n`` elements: the number is the
array's length), ``__type(key, T)`` a member of type ``T *``, and ``__array(values, T)`` a
zero-length array of pointers whose entries are set by relocations in ``.maps`` (programs for
a prog array, maps for a map-in-map; the pointee struct of a map-in-map is the inner map's
template).

``.kconfig`` externs are laid out as libbpf lays them out (sorted by alignment, then name)
in one read-only array map; values come from the running kernel's version and config.
"""

from __future__ import annotations

import gzip
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from bpfvm.btf import Btf, BtfExt, BtfKind, CandidateCache, apply_core_relo_slots, load_target_btf
from bpfvm.elf.link import Placement, Slot, decode_slots
from bpfvm.elf.maps import map_type
from bpfvm.elf.objfile import ObjectFile, Section
from bpfvm.errors import BpfvmError, InputError
from bpfvm.isa.codec import encode
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.program.model import BPF_F_RDONLY_PROG, FuncInfo, LineInfo, MapSpec
from bpfvm.program.uapi import MapType

BtfExtInfo = BtfExt
_INT_FIELDS = {"type", "max_entries", "map_flags", "numa_node", "map_extra", "pinning",
               "key_size", "value_size"}  # fmt: skip


def read_btf(obj: ObjectFile) -> tuple[Btf | None, BtfExt | None]:
    sec = obj.section(".BTF")
    if sec is None:
        return None, None
    btf = Btf.parse(sec.data)
    ext_sec = obj.section(".BTF.ext")
    ext = BtfExt.parse(ext_sec.data, btf) if ext_sec is not None else None
    return btf, ext


# -- BTF-defined maps --------------------------------------------------------------------------


def _uint_field(btf: Btf, map_name: str, member_name: str, type_id: int) -> int:
    ptr = btf[type_id]
    arr = btf[ptr.ref] if ptr.kind == BtfKind.PTR else None
    if arr is None or arr.kind != BtfKind.ARRAY:
        raise InputError(f"map '{map_name}': attr '{member_name}': expected PTR -> ARRAY")
    return arr.array.nelems


def _map_def(btf: Btf, name: str, struct_id: int, sec: str) -> tuple[MapSpec, int | None]:
    """The spec of one map definition struct and the member bit offset of ``values``."""
    st = btf[btf.strip(struct_id)]
    if st.kind != BtfKind.STRUCT:
        raise InputError(f"map '{name}': unexpected def kind {st.kind.name}")
    ints: dict[str, int] = {}
    key_id = value_id = 0
    inner: MapSpec | None = None
    values_off: int | None = None
    for m in st.members:
        if m.name in _INT_FIELDS:
            ints[m.name] = _uint_field(btf, name, m.name, m.type)
        elif m.name in ("key", "value"):
            ptr = btf[m.type]
            if ptr.kind != BtfKind.PTR:
                raise InputError(f"map '{name}': {m.name} spec is not PTR: {ptr.kind.name}")
            if m.name == "key":
                key_id = ptr.ref
            else:
                value_id = ptr.ref
        elif m.name == "values":
            arr = btf[m.type]
            if arr.kind != BtfKind.ARRAY:
                raise InputError(f"map '{name}': values spec is not an array")
            values_off = m.bit_offset // 8
            target = btf[btf.strip(arr.array.type)]
            if target.kind == BtfKind.PTR:
                pointee = btf[btf.strip(target.ref)]
                if pointee.kind == BtfKind.STRUCT:
                    inner, _ = _map_def(btf, name + ".inner", pointee.id, sec)
        else:
            raise InputError(f"map '{name}': unknown field '{m.name}'")
    if "type" not in ints:
        raise InputError(f"map '{name}': map type isn't specified")
    key_size = ints.get("key_size", 0)
    value_size = ints.get("value_size", 0)
    for what, type_id, size in (("key", key_id, key_size), ("value", value_id, value_size)):
        if type_id:
            real = btf.resolve_size(type_id)
            if size and size != real:
                raise InputError(f"map '{name}': conflicting {what} size {size} != {real}")
    if key_id:
        key_size = btf.resolve_size(key_id)
    if value_id:
        value_size = btf.resolve_size(value_id)
    mtype = map_type(ints["type"], name)
    if values_off is not None and not value_size:  # `.values` holds fds: 4 bytes each
        value_size = 4
    spec = MapSpec(
        name, mtype, key_size, value_size, ints.get("max_entries", 0),
        ints.get("map_flags", 0), ints.get("map_extra", 0), inner=inner, btf_key_type_id=key_id,
        btf_value_type_id=value_id, section=sec,
    )  # fmt: skip
    return spec, values_off


def btf_defined_maps(obj: ObjectFile, sec: Section, btf: Btf) -> list[tuple[int, MapSpec]]:
    """(offset in ``.maps``, spec) of every BTF-defined map, ``.values`` applied."""
    datasec_id = btf.find(".maps", BtfKind.DATASEC)
    if datasec_id is None:
        raise InputError("DATASEC '.maps' not found in BTF")
    relocs = {r.offset: r.symbol for r in obj.relocs.get(sec.index, ())}
    # the ELF symbol gives each map's place (libbpf fixes DATASEC offsets up from symbols)
    where = {s.name: (s.value, s.size) for s in obj.symbols_in(sec.index)}
    out = []
    for info in btf[datasec_id].vars:
        var = btf[info.type]
        if var.kind != BtfKind.VAR:
            raise InputError(f".maps: unexpected var kind {var.kind.name}")
        offset, size = where.get(var.name, (info.offset, info.size))
        spec, values_off = _map_def(btf, var.name, var.ref, sec.name)
        if values_off is not None:
            slots = []
            base = offset + values_off
            for off in sorted(o for o in relocs if base <= o < offset + size):
                slots.append(((off - base) // 8, relocs[off].name))
            spec = _with_slots(spec, tuple(slots))
        out.append((offset, spec))
    return out


def _with_slots(spec: MapSpec, slots: tuple[tuple[int, str], ...]) -> MapSpec:
    fields = {k: getattr(spec, k) for k in spec.__dataclass_fields__}
    fields["init_slots"] = slots
    return MapSpec(**fields)


# -- .kconfig ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Extern:
    name: str
    size: int
    align: int


def _align(btf: Btf, type_id: int) -> int:
    """``btf__align_of``: what a C compiler aligns the type to."""
    t = btf[btf.strip(type_id)]
    if t.kind == BtfKind.ARRAY:
        return _align(btf, t.array.type)
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        return max((_align(btf, m.type) for m in t.members), default=1)
    return min(btf.resolve_size(t.id), 8) or 1


def _kconfig_externs(btf: Btf | None) -> list[_Extern]:
    """The ``.kconfig`` externs in libbpf's order: alignment descending, size ascending, name."""
    if btf is None:
        return []
    sec_id = btf.find(".kconfig", BtfKind.DATASEC)
    if sec_id is None:
        return []
    out = []
    for info in btf[sec_id].vars:
        var = btf[info.type]
        out.append(_Extern(var.name, btf.resolve_size(var.ref), _align(btf, var.ref)))
    return sorted(out, key=lambda e: (-e.align, e.size, e.name))


def _layout(externs: list[_Extern]) -> tuple[dict[str, int], int]:
    offsets, off = {}, 0
    for ext in externs:
        off = (off + ext.align - 1) // ext.align * ext.align
        offsets[ext.name] = off
        off += ext.size
    return offsets, off


def kconfig_offset(btf: Btf | None, name: str) -> int | None:
    return _layout(_kconfig_externs(btf))[0].get(name)


def _kernel_config() -> dict[str, str]:
    release = platform.release()
    for path in (Path("/proc/config.gz"), Path(f"/boot/config-{release}")):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        return dict(re.findall(r"^(CONFIG_\w+)=(.*)$", text, re.M))
    return {}


def _kconfig_value(name: str, size: int, config: dict[str, str]) -> bytes:
    if name == "LINUX_KERNEL_VERSION":
        nums = [int(x) for x in re.findall(r"\d+", platform.release())[:3]] + [0, 0, 0]
        value = (nums[0] << 16) | (nums[1] << 8) | min(nums[2], 255)
        return value.to_bytes(size, "little")
    if name in ("LINUX_HAS_BPF_COOKIE", "LINUX_HAS_SYSCALL_WRAPPER"):
        return (1).to_bytes(size, "little")
    raw = config.get(name, "")
    if raw in ("y", "m"):  # tristate: y=1, m=2 as libbpf encodes them (bool externs: 1)
        return (1 if raw == "y" or size == 1 else 2).to_bytes(size, "little")
    if raw.startswith('"'):
        return raw.strip('"').encode()[: size - 1].ljust(size, b"\0")
    if raw:
        return (int(raw, 0) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(size)  # unset: 0, as libbpf gives a weak or tristate extern


def kconfig_map(obj: ObjectFile, btf: Btf | None) -> MapSpec | None:
    externs = _kconfig_externs(btf)
    if not externs:
        return None
    offsets, size = _layout(externs)
    data = bytearray(max(size, 1))
    config = _kernel_config() if any(e.name.startswith("CONFIG_") for e in externs) else {}
    weak = {s.name for s in obj.symbols if s.shndx == 0 and s.bind == "STB_WEAK"}
    for ext in externs:
        off = offsets[ext.name]
        if ext.name.startswith("CONFIG_") and ext.name not in config and ext.name not in weak:
            raise InputError(f"extern (kcfg) '{ext.name}': not found in the kernel config")
        data[off : off + ext.size] = _kconfig_value(ext.name, ext.size, config)
    return MapSpec(".kconfig", MapType.ARRAY, 4, len(data), 1, BPF_F_RDONLY_PROG,
                   initial=bytes(data), section=".kconfig",
                   var_offsets=tuple(sorted(offsets.items())))  # fmt: skip


def kfunc_btf_id(target: Btf | None, name: str) -> int | None:
    if target is None:
        return None
    return target.find(name, BtfKind.FUNC)


# -- CO-RE and line info -----------------------------------------------------------------------


def apply_core(
    ext: BtfExt, obj: ObjectFile, slots: dict[int, list[Slot]], btf: Btf | None,
    target: Btf | None,
) -> None:  # fmt: skip
    """Apply the CO-RE relocations of ``.BTF.ext`` to the section instructions in place."""
    if btf is None or not ext.core_relos:
        return
    if target is None:
        target = load_target_btf()
    cache = CandidateCache()  # one per object: libbpf narrows candidates as relocations match
    for sec_name, relos in ext.core_relos.items():
        sec = obj.section(sec_name)
        if sec is None or sec.index not in slots:
            raise InputError(f"CO-RE relocation for unknown section '{sec_name}'")
        body = slots[sec.index]
        for idx, relo in enumerate(relos):
            pc = relo.insn_off // 8
            if relo.insn_off % 8 or pc >= len(body):
                raise InputError(f"{sec_name}: CO-RE relocation at bad insn offset {relo.insn_off}")
            wide = body[pc][0] == LD_IMM64_CODE and pc + 1 < len(body)
            c, regs, off, imm = body[pc]
            insn = Insn(c, regs & 0xF, regs >> 4, off, imm, body[pc + 1][3] if wide else 0)
            try:
                new = apply_core_relo_slots(
                    insn, relo, btf, target, cache=cache, prog_name=sec_name, relo_idx=idx
                )
            except BpfvmError as exc:
                raise InputError(f"{sec_name}: insn {pc}: {exc}") from None
            patched = decode_slots(encode(list(new)))
            body[pc : pc + len(patched)] = patched


def line_info(ext: BtfExt, placements: list[Placement]) -> tuple[LineInfo, ...]:
    out = []
    for place in placements:
        func = place.function
        for rec in ext.line_info.get(func.section.name, ()):
            slot = rec.insn_off // 8
            if func.contains(slot):
                out.append(LineInfo(place.base + slot - func.start, rec.file_name, rec.line,
                                    rec.col, rec.line_text))  # fmt: skip
    return tuple(sorted(out, key=lambda li: li.insn_off))


def func_info(ext: BtfExt, placements: list[Placement]) -> tuple[FuncInfo, ...]:
    out = []
    for place in placements:
        func = place.function
        for rec in ext.func_info.get(func.section.name, ()):
            slot = rec.insn_off // 8
            if func.contains(slot):
                out.append(FuncInfo(place.base + slot - func.start, rec.type_id))
    return tuple(sorted(out, key=lambda fi: fi.insn_off))
