#!/usr/bin/env python3
"""Generate ``src/bpfvm/isa/helper_ids.py`` from the running kernel's BTF.

The eBPF helper function ids are the enumerators of ``enum bpf_func_id`` in the kernel's
UAPI (``BPF_FUNC_map_lookup_elem = 1``, ...). This script reads the raw BTF blob of the
running kernel (``/sys/kernel/btf/vmlinux`` by default), walks its type section to find that
enum, and writes a Python module mapping each id to its helper name (``bpf_<name>``).

Only the standard library is used. Usage::

    python3 scripts/gen_helper_ids.py                  # write src/bpfvm/isa/helper_ids.py
    python3 scripts/gen_helper_ids.py --check          # exit 1 if the file is out of date
    python3 scripts/gen_helper_ids.py --btf FILE --kernel-version 6.18 --output OUT
"""

from __future__ import annotations

import argparse
import platform
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

BTF_MAGIC = 0xEB9F
DEFAULT_BTF = Path("/sys/kernel/btf/vmlinux")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "src" / "bpfvm" / "isa" / "helper_ids.py"

ENUM_NAME = "bpf_func_id"
ENUMERATOR_PREFIX = "BPF_FUNC_"
MAX_ID_NAME = "__BPF_FUNC_MAX_ID"

# BTF kinds (include/uapi/linux/btf.h).
BTF_KIND_INT = 1
BTF_KIND_PTR = 2
BTF_KIND_ARRAY = 3
BTF_KIND_STRUCT = 4
BTF_KIND_UNION = 5
BTF_KIND_ENUM = 6
BTF_KIND_FWD = 7
BTF_KIND_TYPEDEF = 8
BTF_KIND_VOLATILE = 9
BTF_KIND_CONST = 10
BTF_KIND_RESTRICT = 11
BTF_KIND_FUNC = 12
BTF_KIND_FUNC_PROTO = 13
BTF_KIND_VAR = 14
BTF_KIND_DATASEC = 15
BTF_KIND_FLOAT = 16
BTF_KIND_DECL_TAG = 17
BTF_KIND_TYPE_TAG = 18
BTF_KIND_ENUM64 = 19
BTF_KIND_MAX = BTF_KIND_ENUM64

BTF_TYPE_SIZE = 12  # struct btf_type: name_off, info, size/type (3 x u32)
BTF_ENUM_SIZE = 8  # struct btf_enum: name_off u32, val s32
BTF_ENUM64_SIZE = 12  # struct btf_enum64: name_off u32, val_lo32 u32, val_hi32 u32


class BtfError(Exception):
    """The BTF blob is malformed or lacks what we look for."""


@dataclass(frozen=True, slots=True)
class BtfHeader:
    """``struct btf_header``."""

    endian: str  # struct format prefix: "<" or ">"
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


@dataclass(frozen=True, slots=True)
class BtfEnum:
    """A BTF ENUM or ENUM64 type with its enumerators in declaration order."""

    name: str
    signed: bool
    values: tuple[tuple[str, int], ...]


def parse_header(blob: bytes) -> BtfHeader:
    """Parse ``struct btf_header``, detecting the blob's byte order from the magic."""
    if len(blob) < 24:
        raise BtfError("blob too short for a BTF header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "H", blob, 0)
        if magic == BTF_MAGIC:
            break
    else:
        raise BtfError(f"bad BTF magic {blob[:2].hex()}")
    version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        endian + "BBIIIII", blob, 2
    )
    if version != 1:
        raise BtfError(f"unsupported BTF version {version}")
    header = BtfHeader(endian, version, flags, hdr_len, type_off, type_len, str_off, str_len)
    for what, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
        if hdr_len + off + length > len(blob):
            raise BtfError(f"{what} section runs past the end of the blob")
    return header


def kind_data_size(kind: int, vlen: int) -> int:
    """Size of the kind-specific data that follows a ``struct btf_type``."""
    if kind == BTF_KIND_INT:
        return 4
    if kind == BTF_KIND_ARRAY:
        return 12
    if kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
        return 12 * vlen
    if kind == BTF_KIND_ENUM:
        return BTF_ENUM_SIZE * vlen
    if kind == BTF_KIND_FUNC_PROTO:
        return 8 * vlen
    if kind == BTF_KIND_VAR:
        return 4
    if kind == BTF_KIND_DATASEC:
        return 12 * vlen
    if kind == BTF_KIND_DECL_TAG:
        return 4
    if kind == BTF_KIND_ENUM64:
        return BTF_ENUM64_SIZE * vlen
    if 1 <= kind <= BTF_KIND_MAX:
        return 0
    raise BtfError(f"unknown BTF kind {kind}")


class Btf:
    """Minimal reader of a raw BTF blob: strings and enum types."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.header = parse_header(blob)
        h = self.header
        self._str_start = h.hdr_len + h.str_off
        self._str_end = self._str_start + h.str_len
        self._type_start = h.hdr_len + h.type_off
        self._type_end = self._type_start + h.type_len

    def string(self, off: int) -> str:
        """The NUL-terminated string at ``off`` in the string section."""
        start = self._str_start + off
        if not self._str_start <= start < self._str_end:
            raise BtfError(f"string offset {off} out of range")
        end = self.blob.find(b"\0", start, self._str_end)
        if end < 0:
            raise BtfError(f"unterminated string at offset {off}")
        return self.blob[start:end].decode()

    def enums(self) -> list[BtfEnum]:
        """Every ENUM and ENUM64 type in the type section, in type-id order."""
        e = self.header.endian
        btf_type = struct.Struct(e + "III")
        enum_entry = struct.Struct(e + "Ii")
        enum64_entry = struct.Struct(e + "III")
        found: list[BtfEnum] = []
        pos = self._type_start
        while pos < self._type_end:
            if pos + BTF_TYPE_SIZE > self._type_end:
                raise BtfError(f"truncated btf_type at byte {pos}")
            name_off, info, _size = btf_type.unpack_from(self.blob, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            kind_flag = bool(info >> 31)  # for enums: the values are signed
            data = pos + BTF_TYPE_SIZE
            pos = data + kind_data_size(kind, vlen)
            if pos > self._type_end:
                raise BtfError(f"kind {kind} data at byte {data} runs past the type section")
            if kind == BTF_KIND_ENUM:
                values: list[tuple[str, int]] = []
                for i in range(vlen):
                    off, val = enum_entry.unpack_from(self.blob, data + i * BTF_ENUM_SIZE)
                    if not kind_flag:
                        val &= 0xFFFFFFFF
                    values.append((self.string(off), val))
                found.append(BtfEnum(self.string(name_off), kind_flag, tuple(values)))
            elif kind == BTF_KIND_ENUM64:
                values = []
                for i in range(vlen):
                    off, lo, hi = enum64_entry.unpack_from(self.blob, data + i * BTF_ENUM64_SIZE)
                    val = (hi << 32) | lo
                    if kind_flag and val >= 1 << 63:
                        val -= 1 << 64
                    values.append((self.string(off), val))
                found.append(BtfEnum(self.string(name_off), kind_flag, tuple(values)))
        return found

    def find_enum(self, name: str) -> BtfEnum:
        """The (non-empty) enum type called ``name``."""
        for enum in self.enums():
            if enum.name == name and enum.values:
                return enum
        raise BtfError(f"enum {name} not found in BTF")


def helper_table(enum: BtfEnum) -> tuple[dict[int, str], int]:
    """Map helper id -> ``bpf_<name>`` from ``enum bpf_func_id``; also return the max id."""
    names: dict[int, str] = {}
    max_id: int | None = None
    for enumerator, value in enum.values:
        if enumerator == MAX_ID_NAME:
            max_id = value
            continue
        if not enumerator.startswith(ENUMERATOR_PREFIX):
            raise BtfError(f"unexpected enumerator {enumerator} in enum {enum.name}")
        if value in names:
            raise BtfError(f"duplicate helper id {value}: {names[value]} and {enumerator}")
        names[value] = "bpf_" + enumerator.removeprefix(ENUMERATOR_PREFIX)
    if max_id is None:
        raise BtfError(f"{MAX_ID_NAME} not found in enum {enum.name}")
    if sorted(names) != list(range(max_id)):
        raise BtfError(f"helper ids are not contiguous from 0 to {MAX_ID_NAME} - 1 ({max_id})")
    return dict(sorted(names.items())), max_id


def detect_kernel_version() -> str:
    """``major.minor`` of the running kernel, e.g. ``6.18``."""
    release = platform.release()
    match = re.match(r"(\d+)\.(\d+)", release)
    if match is None:
        raise BtfError(f"cannot parse kernel release {release!r}")
    return f"{match[1]}.{match[2]}"


def render(names: dict[int, str], max_id: int, kernel_version: str) -> str:
    """Source text of the generated module."""
    lines = [
        '"""eBPF helper function ids and names (generated; do not edit).',
        "",
        f"Generated from the kernel's ``enum bpf_func_id`` (Linux {kernel_version}, read from the",
        "kernel BTF at ``/sys/kernel/btf/vmlinux``) by ``scripts/gen_helper_ids.py``. Each",
        'enumerator ``BPF_FUNC_<name> = <id>`` becomes ``<id>: "bpf_<name>"``; id 0 is',
        '``BPF_FUNC_unspec`` (``"bpf_unspec"``, not a callable helper).',
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "HELPER_NAMES: dict[int, str] = {",
    ]
    lines.extend(f'    {helper_id}: "{name}",' for helper_id, name in sorted(names.items()))
    lines += [
        "}",
        '"""Helper function id -> name (``bpf_<name>``), sorted by id."""',
        "",
        "HELPER_IDS: dict[str, int] = "
        "{name: helper_id for helper_id, name in HELPER_NAMES.items()}",
        '"""Helper function name -> id: the inverse of :data:`HELPER_NAMES`."""',
        "",
        f"MAX_HELPER_ID: int = {max_id}",
        '"""``__BPF_FUNC_MAX_ID``: one more than the largest helper id."""',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--btf", type=Path, default=DEFAULT_BTF, help="raw BTF blob to read")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="module to write")
    parser.add_argument(
        "--kernel-version",
        default=None,
        help="kernel version named in the docstring (default: the running kernel's major.minor)",
    )
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the output is out of date"
    )
    args = parser.parse_args(argv)

    try:
        btf = Btf(args.btf.read_bytes())
        names, max_id = helper_table(btf.find_enum(ENUM_NAME))
        version = args.kernel_version or detect_kernel_version()
    except (OSError, BtfError) as exc:
        print(f"gen_helper_ids: {exc}", file=sys.stderr)
        return 2

    text = render(names, max_id, version)
    output: Path = args.output
    if args.check:
        current = output.read_text() if output.exists() else None
        if current != text:
            print(f"gen_helper_ids: {output} is out of date", file=sys.stderr)
            return 1
        print(f"{output} is up to date ({len(names)} helpers)")
        return 0
    output.write_text(text)
    print(f"wrote {output}: {len(names)} helpers, MAX_HELPER_ID = {max_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
