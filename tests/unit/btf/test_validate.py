"""Malformed BTF is refused with one ``BTF: ...`` InputError line, as the kernel refuses it."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.btf import Btf
from bpfvm.errors import InputError

from .conftest import Obj, load_obj

HDR = struct.Struct("<HBBIIIII")


def blob(types: list[int], strings: bytes = b"\0int\0x\0") -> bytes:
    """A BTF blob from raw type words and a string section."""
    type_sec = struct.pack(f"<{len(types)}I", *types)
    hdr = HDR.pack(0xEB9F, 1, 0, 24, 0, len(type_sec), len(type_sec), len(strings))
    return hdr + type_sec + strings


INT = [1, 1 << 24, 4, 1 << 24 | 32]  # [1] int: name "int", INT, size 4, signed 32 bits


def info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    return kflag << 31 | kind << 24 | vlen


def with_header(data: bytes, **fields: int) -> bytes:
    names = ["magic", "version", "flags", "hdr_len", "type_off", "type_len", "str_off", "str_len"]
    values = dict(zip(names, HDR.unpack_from(data), strict=True))
    values.update(fields)
    return HDR.pack(*values.values()) + data[HDR.size :]


def refused(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        Btf.parse(data)
    assert str(info.value).startswith("BTF: ")
    assert "\n" not in str(info.value)


def test_minimal_blob_parses() -> None:
    btf = Btf.parse(blob(INT))
    assert btf[1].name == "int" and btf[1].int_info.bits == 32


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"magic": 0x1234}, "Invalid magic"),
        ({"magic": 0x9FEB}, "big-endian"),
        ({"version": 2}, "Unsupported version"),
        ({"flags": 1}, "Unsupported flags"),
        ({"hdr_len": 16}, "Invalid hdr_len"),
        ({"hdr_len": 1 << 20}, "Invalid hdr_len"),
        ({"type_off": 2}, "Unaligned type_off"),
        ({"str_off": 4}, "overlap"),
        ({"str_len": 100}, "Total section length"),
        ({"str_off": 20, "type_len": 12}, "gap"),
    ],
)
def test_bad_header(fields: dict[str, int], match: str) -> None:
    refused(with_header(blob(INT), **fields), match)


def test_truncated_and_nonzero_header_tail() -> None:
    refused(b"\x9f\xeb\x01", "hdr_len not found")
    good = blob(INT)
    longer = with_header(good[:24] + b"\0" * 8 + good[24:], hdr_len=32)
    assert Btf.parse(longer)[1].name == "int"  # a longer header of zeroes is fine
    refused(with_header(good[:24] + b"\1" + b"\0" * 7 + good[24:], hdr_len=32), "btf_header")


@pytest.mark.parametrize(
    ("types", "strings", "match"),
    [
        (INT, b"int\0", "must start with an empty string"),
        (INT, b"\0int", "not NUL-terminated"),
        ([99, *INT[1:]], b"\0int\0", r"\[1\] Invalid name_offset:99"),
        ([1, info(20), 0], b"\0int\0", r"\[1\] Invalid kind:20"),
        ([1, info(0), 0], b"\0int\0", r"\[1\] Invalid kind:0"),
        ([1, 1 << 24 | 1 << 20, 4, 32], b"\0int\0", "Invalid btf_info"),
        ([1, info(4, vlen=3), 8, 0, 1, 0], b"\0int\0", "meta_left"),
        ([*INT, 0, info(2), 7], b"\0int\0", r"\[2\] Invalid type_id 7"),
        ([*INT, 0, info(8), 2], b"\0int\0", r"\[2\] TYPEDEF Invalid name"),
        ([*INT, 5, info(8), 2], b"\0int\0td\0", r"\[2\] Loop detected"),
        ([*INT, 5, info(2), 1], b"\0int\0td\0", r"\[2\] PTR Invalid name"),
        ([1, info(1), 4, 40], b"\0int\0", "nr_bits exceeds type_size"),
        ([1, info(1), 3, 8], b"\0int\0", "Invalid type_size"),
        ([1, info(1), 4, 3 << 24 | 32], b"\0int\0", "Unsupported encoding"),
        ([1, info(1, vlen=1), 4, 32], b"\0int\0", "vlen != 0"),
        ([1, info(6, vlen=1), 3, 1, 0], b"\0int\0", "Unexpected size 3"),
        ([1, info(6, vlen=1), 4, 0, 0], b"\0int\0", "Invalid enumerator name"),
        ([*INT, 0, info(5, vlen=1), 4, 1, 1, 32], b"\0int\0", "non-zero in a union"),
        ([*INT, 0, info(4, vlen=1), 4, 1, 1, 64], b"\0int\0", "exceeds its struct size"),
        ([*INT, 1, info(12, vlen=3), 0], b"\0int\0", "Invalid func linkage"),
        ([*INT, 1, info(14), 1, 7], b"\0int\0", "Linkage not supported"),
        ([1, info(7), 3], b"\0int\0", "type != 0"),
        ([1, info(16), 5], b"\0int\0", "FLOAT Invalid type_size"),
        ([*INT, 0, info(3), 4, 1, 1, 2], b"\0int\0", "ARRAY size != 0"),
    ],
)
def test_bad_types(types: list[int], strings: bytes, match: str) -> None:
    refused(blob(types, strings), match)


def test_bad_type_section_length() -> None:
    types = struct.pack("<4I", *INT)[:14]
    refused(HDR.pack(0xEB9F, 1, 0, 24, 0, 14, 14, 5) + types + b"\0int\0", "multiple of 4")


def test_unaligned_record_is_meta_left(core_task: Obj) -> None:
    data = core_task.raw_btf
    hdr = HDR.unpack_from(data)
    # cut the type section mid-record: the string section starts earlier
    cut = with_header(data, type_len=hdr[5] - 8, str_off=hdr[5] - 8)
    refused(cut[: 24 + hdr[5] - 8] + data[24 + hdr[5] :], "meta_left")


def test_truncations_of_a_real_blob(core_net: Obj) -> None:
    data = core_net.raw_btf
    for size in range(0, len(data), 7):
        with pytest.raises(InputError):
            Btf.parse(data[:size])


def exercise(btf: Btf) -> None:
    """Use every type the way callers do; only InputError may come out."""
    for t in btf.types:
        for call in (btf.type_name, btf.describe, btf.resolve_size, btf.strip):
            with contextlib.suppress(InputError):
                call(t.id)
        for m in t.members:
            if m.name:
                with contextlib.suppress(InputError):
                    btf.member_offset(t.id, m.name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_parse_or_refuse(data: st.DataObject) -> None:
    raw = bytearray(load_obj("core_net").raw_btf)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        btf = Btf.parse(bytes(raw))
    except InputError as exc:
        assert str(exc).startswith("BTF: ")
        return
    exercise(btf)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=24),
    kind=st.integers(0, 31),
    vlen=st.integers(0, 4),
)
def test_random_records_parse_or_refuse(words: list[int], kind: int, vlen: int) -> None:
    words = [*INT, words[0] % 8, info(kind, vlen) | (words[1] & 0x80000000), *words[2:]]
    try:
        btf = Btf.parse(blob(words))
    except InputError:
        return
    exercise(btf)
