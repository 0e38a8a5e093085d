"""Reading a raw ``.BTF`` blob: header and section checks, one scan over the type section,
and lazy decoding of single types.

The header is checked as the kernel's ``btf_parse_hdr``/``btf_check_sec_info`` do (magic, version,
flags, no unknown non-zero header bytes, type section 4-byte aligned, sections inside the blob,
neither overlapping nor leaving gaps), the string section as ``btf_parse_str_sec`` does
(NUL-terminated; a base BTF's starts with the empty string).

The type section is copied into an ``array('I')`` of words (every record is a multiple of four
bytes). :func:`scan_types` walks it once, recording the word index of each type and performing
the per-kind checks of the kernel's ``btf_check_meta`` and ``btf_*_check_meta`` (known kind,
clean ``info`` bits, record inside the section, valid string offsets, names present or absent as
the kind requires, INT/ENUM/FLOAT sizes, member offsets, linkages), then checks that every type
id a record refers to exists and that no chain of single-successor kinds (pointers, modifiers,
typedefs, arrays, vars, decl tags) loops, as ``btf_resolve`` would report. Nothing else is
decoded until asked: :func:`decode_type` builds the :class:`~bpfvm.btf.types.BtfType` of one id.
That keeps parsing the kernel's ~130k types to one cheap pass.

String offsets of a split BTF continue those of its base; type ids continue the base's count.
Every error is an :class:`~bpfvm.errors.InputError` starting with ``BTF:``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bpfvm.btf.kinds import (
    BTF_HEADER_SIZE,
    BTF_INFO_MASK,
    BTF_INT_MASK,
    BTF_KIND_MAX,
    BTF_MAGIC,
    BTF_MAX_NAME_OFFSET,
    BTF_MAX_TYPE,
    BTF_VERSION,
    KIND_FIXED_SIZE,
    KIND_VLEN_SIZE,
    BtfKind,
    IntEncoding,
    Linkage,
)
from bpfvm.btf.types import (
    BtfArray,
    BtfEnumValue,
    BtfInt,
    BtfMember,
    BtfParam,
    BtfType,
    BtfVarSecinfo,
)
from bpfvm.errors import InputError

_HEADER = struct.Struct("<HBBIIIII")
# Words of kind-specific data: fixed part and per-vlen record, indexed by kind number.
_FIXED_WORDS = [KIND_FIXED_SIZE.get(BtfKind(k), 0) // 4 for k in range(BTF_KIND_MAX + 1)]
_VLEN_WORDS = [KIND_VLEN_SIZE.get(BtfKind(k), 0) // 4 for k in range(BTF_KIND_MAX + 1)]
_KINDS = list(BtfKind)
# Kinds with exactly one successor that must not loop (see module docstring).
_CHAIN_KINDS = frozenset(
    {
        BtfKind.PTR,
        BtfKind.TYPEDEF,
        BtfKind.VOLATILE,
        BtfKind.CONST,
        BtfKind.RESTRICT,
        BtfKind.TYPE_TAG,
        BtfKind.ARRAY,
        BtfKind.VAR,
        BtfKind.DECL_TAG,
    }
)


def btf_error(message: str) -> InputError:
    return InputError(f"BTF: {message}")


@dataclass(frozen=True, slots=True)
class BtfHeader:
    """``struct btf_header``; offsets are relative to the end of the header."""

    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


def parse_header(data: bytes) -> BtfHeader:
    """Check the header and section layout as the kernel's ``btf_parse_hdr`` does."""
    if len(data) < BTF_HEADER_SIZE:
        raise btf_error(f"hdr_len not found (blob of {len(data)} bytes)")
    magic, version, flags, hdr_len, *secs = _HEADER.unpack_from(data)
    if magic != BTF_MAGIC:
        hint = " (big-endian BTF is not supported)" if magic == 0x9FEB else ""
        raise btf_error(f"Invalid magic 0x{magic:x}{hint}")
    if version != BTF_VERSION:
        raise btf_error(f"Unsupported version {version}")
    if flags:
        raise btf_error(f"Unsupported flags 0x{flags:x}")
    if hdr_len < BTF_HEADER_SIZE or hdr_len > len(data):
        raise btf_error(f"Invalid hdr_len {hdr_len}")
    if any(data[BTF_HEADER_SIZE:hdr_len]):
        raise btf_error("Unsupported btf_header (non-zero bytes beyond the known fields)")
    header = BtfHeader(version, flags, hdr_len, *secs)
    _check_sections(header, len(data))
    return header


def _check_sections(hdr: BtfHeader, size: int) -> None:
    if hdr.type_off % 4:
        raise btf_error("Unaligned type_off")
    secs = sorted([(hdr.type_off, hdr.type_len), (hdr.str_off, hdr.str_len)])
    total = 0
    for off, length in secs:
        if off < total:
            raise btf_error("Section overlap found")
        if off > total:
            raise btf_error("Unsupported section found (gap between sections)")
        total = off + length
    if hdr.hdr_len + total != size:
        raise btf_error(
            f"Total section length too long ({hdr.hdr_len + total} != blob size {size})"
        )


class StringTable:
    """The string section; offsets of a split BTF continue those of its base."""

    def __init__(self, data: bytes, base: StringTable | None) -> None:
        self.base = base
        self.start: int = base.limit if base is not None else 0
        self.data = data
        self.limit: int = self.start + len(data)
        self._cache: dict[int, str] = {}
        if base is None and (not data or data[0]):
            raise btf_error("Invalid string section (must start with an empty string)")
        if data and data[-1]:
            raise btf_error("Invalid string section (not NUL-terminated)")
        if self.limit > BTF_MAX_NAME_OFFSET + 1:
            raise btf_error("Invalid string section (too long)")

    def valid(self, off: int) -> bool:
        return off < self.limit

    def get(self, off: int) -> str:
        """The NUL-terminated string at ``off`` (which must be valid)."""
        if off < self.start:
            assert self.base is not None
            return self.base.get(off)
        cached = self._cache.get(off)
        if cached is None:
            rel = off - self.start
            raw = self.data[rel : self.data.index(b"\0", rel)]
            cached = self._cache[off] = raw.decode("utf-8", "surrogateescape")
        return cached

    def is_empty(self, off: int) -> bool:
        if off < self.start:
            assert self.base is not None
            return self.base.is_empty(off)
        return self.data[off - self.start] == 0


def load_words(data: bytes) -> array[int]:
    """Little-endian u32 words of ``data`` (whose length is a multiple of 4)."""
    words = array("I")
    words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    return words


@dataclass(slots=True)
class _ScanState:
    """What :func:`scan_types` learns while checking records one by one."""

    words: array[int]
    strings: StringTable
    first_id: int
    max_ref: int = 0  # largest type id referenced so far ...
    max_ref_owner: int = 0  # ... and by which type

    def ref(self, owner: int, type_id: int) -> None:
        if type_id > self.max_ref:
            self.max_ref, self.max_ref_owner = type_id, owner


def scan_types(words: array[int], strings: StringTable, first_id: int) -> tuple[array[int], bytes]:
    """Check every record; return the word index and the kind of each type, in id order."""
    st = _ScanState(words, strings, first_id)
    offsets = array("I")
    kinds = bytearray()
    pos, end, tid = 0, len(words), first_id
    while pos < end:
        if end - pos < 3:
            raise btf_error(f"[{tid}] meta_left:{4 * (end - pos)} meta_needed:12")
        info = words[pos + 1]
        kind = (info >> 24) & 0x1F
        if info & ~BTF_INFO_MASK & 0xFFFFFFFF:
            raise btf_error(f"[{tid}] Invalid btf_info:{info:x}")
        if kind == 0 or kind > BTF_KIND_MAX:
            raise btf_error(f"[{tid}] Invalid kind:{kind}")
        if not strings.valid(words[pos]):
            raise btf_error(f"[{tid}] Invalid name_offset:{words[pos]}")
        vlen = info & 0xFFFF
        size = 3 + _FIXED_WORDS[kind] + vlen * _VLEN_WORDS[kind]
        if end - pos < size:
            raise btf_error(f"[{tid}] meta_left:{4 * (end - pos)} meta_needed:{4 * size}")
        _CHECKS[kind](st, tid, pos, vlen)
        offsets.append(pos)
        kinds.append(kind)
        pos += size
        tid += 1
        if tid > BTF_MAX_TYPE + 1:
            raise btf_error(f"Exceeded max num of types ({BTF_MAX_TYPE})")
    if st.max_ref >= tid:
        raise btf_error(f"[{st.max_ref_owner}] Invalid type_id {st.max_ref}")
    return offsets, bytes(kinds)


def _fail(tid: int, kind: int, message: str) -> InputError:
    return btf_error(f"[{tid}] {BtfKind(kind).name} {message}")


def _check_flags(st: _ScanState, tid: int, pos: int, *, vlen_ok: bool, kflag_ok: bool) -> None:
    info = st.words[pos + 1]
    kind = (info >> 24) & 0x1F
    if not vlen_ok and info & 0xFFFF:
        raise _fail(tid, kind, "vlen != 0")
    if not kflag_ok and info >> 31:
        raise _fail(tid, kind, "Invalid btf_info kind_flag")


def _check_name(st: _ScanState, tid: int, pos: int, *, required: bool) -> None:
    name_off = st.words[pos]
    if (name_off == 0 or st.strings.is_empty(name_off)) if required else name_off:
        raise _fail(tid, st.words[pos + 1] >> 24 & 0x1F, "Invalid name")


def _check_int(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=False)
    size, data = st.words[pos + 2], st.words[pos + 3]
    if data & ~BTF_INT_MASK:
        raise _fail(tid, BtfKind.INT, f"Invalid int_data:{data:x}")
    nr_bits = (data & 0xFF) + (data >> 16 & 0xFF)
    if nr_bits > 128:
        raise _fail(tid, BtfKind.INT, "nr_bits exceeds 128")
    if size not in (1, 2, 4, 8, 16):
        raise _fail(tid, BtfKind.INT, f"Invalid type_size {size}")
    if (nr_bits + 7) // 8 > size:
        raise _fail(tid, BtfKind.INT, "nr_bits exceeds type_size")
    if (data >> 24 & 0xF) not in (0, 1, 2, 4):
        raise _fail(tid, BtfKind.INT, "Unsupported encoding")


def _check_ref(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    kind = st.words[pos + 1] >> 24 & 0x1F
    tagged = kind in (BtfKind.TYPE_TAG, BtfKind.DECL_TAG)
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=tagged)
    _check_name(st, tid, pos, required=tagged or kind == BtfKind.TYPEDEF)
    st.ref(tid, st.words[pos + 2])


def _check_array(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=False)
    _check_name(st, tid, pos, required=False)
    if st.words[pos + 2]:
        raise _fail(tid, BtfKind.ARRAY, "size != 0")
    st.ref(tid, max(st.words[pos + 3], st.words[pos + 4]))


def _check_composite(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    w = st.words
    info = w[pos + 1]
    kind = info >> 24 & 0x1F
    recs = w[pos + 3 : pos + 3 + 3 * vlen]
    if vlen:
        if max(recs[0::3]) >= st.strings.limit:
            raise _fail(tid, kind, "Invalid member name_offset")
        st.ref(tid, max(recs[1::3]))
    offsets = recs[2::3]
    if info >> 31:
        offsets = array("I", [off & 0xFFFFFF for off in offsets])
    if kind == BtfKind.UNION and any(offsets):
        raise _fail(tid, kind, "Invalid member bits_offset (non-zero in a union)")
    if vlen and (max(offsets) + 7) // 8 > w[pos + 2]:
        raise _fail(tid, kind, "Member bits_offset exceeds its struct size")


def _check_enum(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    kind = st.words[pos + 1] >> 24 & 0x1F
    if st.words[pos + 2] not in (1, 2, 4, 8):
        raise _fail(tid, kind, f"Unexpected size {st.words[pos + 2]}")
    step = _VLEN_WORDS[kind]
    recs = st.words[pos + 3 : pos + 3 + step * vlen : step]
    if vlen and max(recs) >= st.strings.limit:
        raise _fail(tid, kind, "Invalid enumerator name_offset")
    if any(off == 0 or st.strings.is_empty(off) for off in recs):
        raise _fail(tid, kind, "Invalid enumerator name")


def _check_fwd(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=True)
    _check_name(st, tid, pos, required=True)
    if st.words[pos + 2]:
        raise _fail(tid, BtfKind.FWD, "type != 0")


def _check_func(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=True, kflag_ok=False)
    _check_name(st, tid, pos, required=True)
    if vlen > Linkage.EXTERN:
        raise _fail(tid, BtfKind.FUNC, f"Invalid func linkage {vlen}")
    st.ref(tid, st.words[pos + 2])


def _check_func_proto(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=True, kflag_ok=False)
    _check_name(st, tid, pos, required=False)
    recs = st.words[pos + 3 : pos + 3 + 2 * vlen]
    if vlen and max(recs[0::2]) >= st.strings.limit:
        raise _fail(tid, BtfKind.FUNC_PROTO, "Invalid arg name_offset")
    st.ref(tid, max([st.words[pos + 2], *recs[1::2]]))


def _check_var(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=False)
    _check_name(st, tid, pos, required=True)
    if st.words[pos + 3] > Linkage.EXTERN:
        raise _fail(tid, BtfKind.VAR, "Linkage not supported")
    st.ref(tid, st.words[pos + 2])


def _check_datasec(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=True, kflag_ok=False)
    _check_name(st, tid, pos, required=True)
    recs = st.words[pos + 3 : pos + 3 + 3 * vlen]
    if vlen:
        st.ref(tid, max(recs[0::3]))
    # An object file's DATASEC has size 0 until the loader fixes it up from the ELF section.
    sec_size = st.words[pos + 2]
    for off, size in zip(recs[1::3], recs[2::3], strict=True):
        if sec_size and off + size > sec_size:
            raise _fail(tid, BtfKind.DATASEC, "Invalid offset+size")


def _check_float(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_flags(st, tid, pos, vlen_ok=False, kflag_ok=False)
    _check_name(st, tid, pos, required=True)
    if st.words[pos + 2] not in (2, 4, 8, 12, 16):
        raise _fail(tid, BtfKind.FLOAT, "Invalid type_size")


def _check_decl_tag(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    _check_ref(st, tid, pos, vlen)
    idx = st.words[pos + 3]
    if idx >= 0x80000000 and idx != 0xFFFFFFFF:
        raise _fail(tid, BtfKind.DECL_TAG, "Invalid component_idx")


def _no_check(st: _ScanState, tid: int, pos: int, vlen: int) -> None:
    raise AssertionError("kind 0 is rejected before dispatch")


_CHECKS: list[Callable[[_ScanState, int, int, int], None]] = [
    _no_check,  # UNKN
    _check_int,
    _check_ref,  # PTR
    _check_array,
    _check_composite,  # STRUCT
    _check_composite,  # UNION
    _check_enum,
    _check_fwd,
    _check_ref,  # TYPEDEF
    _check_ref,  # VOLATILE
    _check_ref,  # CONST
    _check_ref,  # RESTRICT
    _check_func,
    _check_func_proto,
    _check_var,
    _check_datasec,
    _check_float,
    _check_decl_tag,
    _check_ref,  # TYPE_TAG
    _check_enum,  # ENUM64
]


def check_chains(words: array[int], offsets: array[int], kinds: bytes, first_id: int) -> None:
    """Reject loops of single-successor kinds (``[id] Loop detected``, as ``btf_resolve``)."""
    state = bytearray(len(kinds))  # 0 unseen, 1 on the current path, 2 done
    chain = [k in _CHAIN_KINDS for k in range(BTF_KIND_MAX + 1)]
    for start in range(len(kinds)):
        path = []
        idx = start
        while idx >= 0 and not state[idx] and chain[kinds[idx]]:
            state[idx] = 1
            path.append(idx)
            pos = offsets[idx]
            succ = words[pos + 3] if kinds[idx] == BtfKind.ARRAY else words[pos + 2]
            idx = succ - first_id if succ >= first_id else -1
        if idx >= 0 and state[idx] == 1:
            raise btf_error(f"[{idx + first_id}] Loop detected")
        for seen in path:
            state[seen] = 2


def decode_type(words: array[int], pos: int, tid: int, strings: StringTable) -> BtfType:
    """Build the record of type ``tid`` whose ``struct btf_type`` starts at word ``pos``."""
    name_off, info = words[pos], words[pos + 1]
    kind = _KINDS[info >> 24 & 0x1F]
    common: dict[str, Any] = {
        "id": tid,
        "kind": kind,
        "name": strings.get(name_off),
        "kind_flag": bool(info >> 31),
        "vlen": info & 0xFFFF,
    }
    return _DECODERS[kind](common, words, pos + 2, strings)


# A decoder gets the common fields and the word index of the size/type word.
_Decoder = Callable[[dict[str, Any], "array[int]", int, StringTable], BtfType]


def _dec_ref(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c, ref=w[p])


def _dec_sized(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c, size=w[p])


def _dec_int(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    data = w[p + 1]
    info = BtfInt(IntEncoding(data >> 24 & 0xF), data >> 16 & 0xFF, data & 0xFF)
    return BtfType(**c, size=w[p], int_data=info)


def _dec_array(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c, array_data=BtfArray(w[p + 1], w[p + 2], w[p + 3]))


def _dec_composite(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    members = []
    for i in range(p + 1, p + 1 + 3 * c["vlen"], 3):
        off = w[i + 2]
        if c["kind_flag"]:
            members.append(BtfMember(s.get(w[i]), w[i + 1], off & 0xFFFFFF, off >> 24))
        else:
            members.append(BtfMember(s.get(w[i]), w[i + 1], off))
    return BtfType(**c, size=w[p], members=tuple(members))


def _dec_enum(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    signed: bool = c["kind_flag"]
    values = []
    if c["kind"] == BtfKind.ENUM:
        for i in range(p + 1, p + 1 + 2 * c["vlen"], 2):
            val = w[i + 1]
            if signed and val & 0x80000000:
                val -= 1 << 32
            values.append(BtfEnumValue(s.get(w[i]), val, signed))
    else:
        for i in range(p + 1, p + 1 + 3 * c["vlen"], 3):
            val = w[i + 1] | w[i + 2] << 32
            if signed and val >> 63:
                val -= 1 << 64
            values.append(BtfEnumValue(s.get(w[i]), val, signed))
    return BtfType(**c, size=w[p], enum_values=tuple(values))


def _dec_fwd(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c)


def _dec_func(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c, ref=w[p], linkage=Linkage(c["vlen"]))


def _dec_func_proto(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    end = p + 1 + 2 * c["vlen"]
    params = tuple(BtfParam(s.get(w[i]), w[i + 1]) for i in range(p + 1, end, 2))
    return BtfType(**c, ref=w[p], params=params)


def _dec_var(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    return BtfType(**c, ref=w[p], linkage=Linkage(w[p + 1]))


def _dec_datasec(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    end = p + 1 + 3 * c["vlen"]
    secinfo = tuple(BtfVarSecinfo(w[i], w[i + 1], w[i + 2]) for i in range(p + 1, end, 3))
    return BtfType(**c, size=w[p], vars=secinfo)


def _dec_decl_tag(c: dict[str, Any], w: array[int], p: int, s: StringTable) -> BtfType:
    idx = w[p + 1] - (1 << 32) if w[p + 1] & 0x80000000 else w[p + 1]
    return BtfType(**c, ref=w[p], component_idx=idx)


_DECODERS: dict[BtfKind, _Decoder] = {
    BtfKind.INT: _dec_int,
    BtfKind.PTR: _dec_ref,
    BtfKind.ARRAY: _dec_array,
    BtfKind.STRUCT: _dec_composite,
    BtfKind.UNION: _dec_composite,
    BtfKind.ENUM: _dec_enum,
    BtfKind.FWD: _dec_fwd,
    BtfKind.TYPEDEF: _dec_ref,
    BtfKind.VOLATILE: _dec_ref,
    BtfKind.CONST: _dec_ref,
    BtfKind.RESTRICT: _dec_ref,
    BtfKind.FUNC: _dec_func,
    BtfKind.FUNC_PROTO: _dec_func_proto,
    BtfKind.VAR: _dec_var,
    BtfKind.DATASEC: _dec_datasec,
    BtfKind.FLOAT: _dec_sized,
    BtfKind.DECL_TAG: _dec_decl_tag,
    BtfKind.TYPE_TAG: _dec_ref,
    BtfKind.ENUM64: _dec_enum,
}
