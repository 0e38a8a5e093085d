"""Writing BTF: :class:`~bpfvm.btf.types.BtfType` records back to a raw ``.BTF`` blob.

The inverse of :mod:`bpfvm.btf.parse`: a 24-byte header, the type section (records in id
order) and a deduplicated string section that starts with the empty string. ``vlen`` is derived
from the record's members/enumerators/params/vars (from ``linkage`` for a FUNC) and
``kind_flag`` is kept, and forced on for a struct/union holding a bitfield (whose member offsets
then pack ``bitfield_size << 24 | bit_offset``). ``parse(encode(types))`` gives back equal
records; the string section may be ordered differently from the blob they were read from.

For a split BTF pass the base: type ids and string offsets continue the base's (names are not
shared with the base's strings).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from bpfvm.btf.btf import Btf
from bpfvm.btf.kinds import (
    BTF_HEADER_SIZE,
    BTF_MAGIC,
    BTF_VERSION,
    REF_KINDS,
    SIZED_KINDS,
    BtfKind,
)
from bpfvm.btf.types import BtfType
from bpfvm.errors import InputError


class _Strings:
    """A string section under construction."""

    def __init__(self, base: Btf | None) -> None:
        self.start = base.strings.limit if base is not None else 0
        self.data = bytearray(b"" if base is not None else b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        off = self.offsets.get(text)
        if off is None:
            off = self.offsets[text] = self.start + len(self.data)
            self.data += text.encode("utf-8", "surrogateescape") + b"\0"
        return off


def encode_btf(types: Btf | Iterable[BtfType], base: Btf | None = None) -> bytes:
    """A raw BTF blob of ``types`` (a :class:`Btf`'s own types, or records numbered from 1,
    or from ``len(base)`` for split BTF)."""
    if isinstance(types, Btf):
        base = types.base
        records: Iterable[BtfType] = (types[i] for i in range(types.start_id, len(types)))
    else:
        records = types
    strings = _Strings(base)
    words: list[int] = []
    expected = len(base) if base is not None else 1
    for t in records:
        if t.id != expected:
            raise InputError(f"BTF encode: type id {t.id} out of order (expected {expected})")
        words += _encode_type(t, strings)
        expected += 1
    type_sec = struct.pack(f"<{len(words)}I", *words)
    str_sec = bytes(strings.data)
    header = struct.pack(
        "<HBBIIIII",
        BTF_MAGIC,
        BTF_VERSION,
        0,
        BTF_HEADER_SIZE,
        0,
        len(type_sec),
        len(type_sec),
        len(str_sec),
    )
    return header + type_sec + str_sec


def _kind_flag(t: BtfType) -> bool:
    return t.kind_flag or any(m.bitfield_size for m in t.members)


def _vlen(t: BtfType) -> int:
    if t.kind == BtfKind.FUNC:
        return int(t.linkage)
    return len(t.members) + len(t.enum_values) + len(t.params) + len(t.vars)


def _encode_type(t: BtfType, strings: _Strings) -> list[int]:
    kflag = _kind_flag(t)
    info = int(t.kind) << 24 | _vlen(t) | (kflag << 31)
    third = t.size if t.kind in SIZED_KINDS else t.ref if t.kind in REF_KINDS else 0
    out = [strings.add(t.name), info, third & 0xFFFFFFFF]
    kind = t.kind
    if kind == BtfKind.INT:
        i = t.int_info
        out.append(int(i.encoding) << 24 | i.offset << 16 | i.bits)
    elif kind == BtfKind.ARRAY:
        out += [t.array.type, t.array.index_type, t.array.nelems]
    elif kind in (BtfKind.STRUCT, BtfKind.UNION):
        for m in t.members:
            off = m.bitfield_size << 24 | m.bit_offset if kflag else m.bit_offset
            out += [strings.add(m.name), m.type, off]
    elif kind == BtfKind.ENUM:
        for v in t.enum_values:
            out += [strings.add(v.name), v.value & 0xFFFFFFFF]
    elif kind == BtfKind.ENUM64:
        for e in t.enum_values:
            raw = e.value & 0xFFFFFFFFFFFFFFFF
            out += [strings.add(e.name), raw & 0xFFFFFFFF, raw >> 32]
    elif kind == BtfKind.FUNC_PROTO:
        for p in t.params:
            out += [strings.add(p.name), p.type]
    elif kind == BtfKind.VAR:
        out.append(int(t.linkage))
    elif kind == BtfKind.DATASEC:
        for sec in t.vars:
            out += [sec.type, sec.offset, sec.size]
    elif kind == BtfKind.DECL_TAG:
        out.append(t.component_idx & 0xFFFFFFFF)
    return out
