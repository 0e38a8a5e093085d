"""``.BTF.ext``: per-section function info, line info and CO-RE relocation records.

Layout (``struct btf_ext_header``): magic 0xeb9f, version 1, flags 0, ``hdr_len``, then
offset/length pairs (relative to the end of the header) of the func_info and line_info
subsections and, when ``hdr_len`` reaches 32 bytes, of the core_relo subsection. Each
subsection is a u32 record size followed by blocks of ``struct btf_ext_info_sec``
(``sec_name_off``, ``num_info``) and ``num_info`` records of that size. Records are read by their
known leading fields and longer records are accepted, as libbpf does for forward compatibility;
a record size below the known minimum or not a multiple of 4 is refused
(``btf_ext_setup_info``). All names are offsets into the string section of the object's
``.BTF``.

``insn_off`` is kept exactly as stored: in an object file it counts **bytes** from the start of
the ELF section (the loader divides by 8 to get an instruction slot index). The kernel-side
``bpf_func_info``/``bpf_line_info`` of a loaded program count slots instead.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bpfvm.btf.btf import Btf
from bpfvm.btf.kinds import BTF_MAGIC, BTF_VERSION
from bpfvm.errors import InputError

_PREFIX = struct.Struct("<HBBI")
_HDR_FIELDS = ("func_info_off", "func_info_len", "line_info_off", "line_info_len")
_MIN_HDR = 24  # up to line_info_len
_CORE_HDR = 32  # up to core_relo_len
LINE_COL_BITS = 10  # line_col = line << 10 | col


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """``struct bpf_func_info``; ``insn_off`` in bytes in an object file."""

    insn_off: int
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    """``struct bpf_line_info`` with its strings resolved and ``line_col`` split."""

    insn_off: int
    file_name: str
    line_text: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """``struct bpf_core_relo``; ``kind`` is a raw ``enum bpf_core_relo_kind`` value
    (see :class:`bpfvm.btf.core.CoreReloKind`), kept raw so that unknown kinds reach the
    relocator, which reports them as libbpf does."""

    insn_off: int
    type_id: int
    access_str: str
    kind: int


_R = TypeVar("_R")
_Decode = Callable[[Btf, tuple[int, ...]], _R]


def ext_error(message: str) -> InputError:
    return InputError(f"BTF.ext: {message}")


@dataclass(frozen=True)
class BtfExt:
    """A parsed ``.BTF.ext``: records by ELF section name, in file order."""

    func_info: dict[str, list[FuncInfo]]
    line_info: dict[str, list[LineInfo]]
    core_relos: dict[str, list[CoreRelo]]
    func_info_rec_size: int = 8
    line_info_rec_size: int = 16
    core_relo_rec_size: int = 16

    @classmethod
    def parse(cls, data: bytes, btf: Btf) -> BtfExt:
        """Parse ``.BTF.ext`` bytes; names resolve against ``btf`` (the object's ``.BTF``)."""
        data = bytes(data)
        hdr_len = _parse_header(data)
        fields = struct.unpack_from("<4I", data, 8)
        offs = dict(zip(_HDR_FIELDS, fields, strict=True))
        core_off = core_len = 0
        if hdr_len >= _CORE_HDR:
            core_off, core_len = struct.unpack_from("<2I", data, 24)
        body = data[hdr_len:]
        func, fsize = _subsection(
            body, btf, "func_info", offs["func_info_off"], offs["func_info_len"], 8, _func
        )
        line, lsize = _subsection(
            body, btf, "line_info", offs["line_info_off"], offs["line_info_len"], 16, _line
        )
        core, csize = _subsection(body, btf, "core_relo", core_off, core_len, 16, _core)
        return cls(func, line, core, fsize or 8, lsize or 16, csize or 16)


def _parse_header(data: bytes) -> int:
    if len(data) < _PREFIX.size:
        raise ext_error("header not found")
    magic, version, flags, hdr_len = _PREFIX.unpack_from(data)
    hdr_len = int(hdr_len)
    if magic != BTF_MAGIC:
        raise ext_error(f"Invalid magic 0x{magic:x}")
    if version != BTF_VERSION:
        raise ext_error(f"Unsupported version {version}")
    if flags:
        raise ext_error(f"Unsupported flags 0x{flags:x}")
    if hdr_len < _MIN_HDR or hdr_len > len(data):
        raise ext_error(f"Invalid hdr_len {hdr_len}")
    return hdr_len


def _subsection(
    body: bytes, btf: Btf, desc: str, off: int, length: int, min_size: int, decode: _Decode[_R]
) -> tuple[dict[str, list[_R]], int]:
    """Records of one subsection by section name, and its record size (0 when absent)."""
    if length == 0:
        return {}, 0
    if off % 4:
        raise ext_error(f"{desc} section is not aligned to 4 bytes")
    if off + length > len(body):
        raise ext_error(f"{desc} section (off:{off} len:{length}) is beyond the end of .BTF.ext")
    if length < 4:
        raise ext_error(f"{desc} record size not found")
    (rec_size,) = struct.unpack_from("<I", body, off)
    if rec_size < min_size or rec_size % 4:
        raise ext_error(f"{desc} section has invalid record size {rec_size}")
    nfields = min_size // 4
    out: dict[str, list[_R]] = {}
    pos, end = off + 4, off + length
    while pos < end:
        if end - pos < 8:
            raise ext_error(f"{desc} section header is not found")
        name_off, count = struct.unpack_from("<2I", body, pos)
        if count == 0 or 8 + count * rec_size > end - pos:
            raise ext_error(f"{desc} section has incorrect num_records {count}")
        name = _string(btf, name_off, f"{desc} section name")
        records = out.setdefault(name, [])
        for rec in range(pos + 8, pos + 8 + count * rec_size, rec_size):
            records.append(decode(btf, struct.unpack_from(f"<{nfields}I", body, rec)))
        pos += 8 + count * rec_size
    return out, rec_size


def _string(btf: Btf, off: int, what: str) -> str:
    if not btf.strings.valid(off):
        raise ext_error(f"invalid {what} offset {off}")
    return btf.strings.get(off)


def _type_id(btf: Btf, type_id: int, what: str) -> int:
    if not btf.has(type_id):
        raise ext_error(f"{what} refers to type id {type_id} beyond the last ({len(btf) - 1})")
    return type_id


def _func(btf: Btf, f: tuple[int, ...]) -> FuncInfo:
    return FuncInfo(f[0], _type_id(btf, f[1], "func_info"))


def _line(btf: Btf, f: tuple[int, ...]) -> LineInfo:
    insn_off, file_off, line_off, line_col = f
    file_name = _string(btf, file_off, "line_info file name")
    text = _string(btf, line_off, "line_info line")
    return LineInfo(insn_off, file_name, text, line_col >> LINE_COL_BITS, line_col & 0x3FF)


def _core(btf: Btf, f: tuple[int, ...]) -> CoreRelo:
    insn_off, type_id, access_off, kind = f
    access = _string(btf, access_off, "core_relo access string")
    return CoreRelo(insn_off, _type_id(btf, type_id, "core_relo"), access, kind)
