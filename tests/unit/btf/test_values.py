"""Typed values (bpfvm.btf.values): C layouts decoded to Python and encoded back, on a
hand-made BTF covering every kind, on the example objects' BTF and on the kernel's.

The round-trip properties compare with a mask of the bits C members cover, computed here
independently of the codecs: ``encode(decode(x)) == x & mask`` (padding and the holes around
bitfields encode as zero)."""

from __future__ import annotations

import functools
import math
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.btf import (
    Btf,
    BtfArray,
    BtfEnumValue,
    BtfInt,
    BtfKind,
    BtfMember,
    BtfType,
    BtfValueError,
    BtfVarSecinfo,
    IntEncoding,
    Linkage,
    ValueCodec,
    decode_value,
    encode_btf,
    encode_value,
    enum_name,
)
from bpfvm.elf.loader import load_object
from bpfvm.elf.objfile import read_object

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "c"
NONE, SIGNED, BOOL = IntEncoding.NONE, IntEncoding.SIGNED, IntEncoding.BOOL


def _int(
    tid: int, name: str, size: int, enc: IntEncoding = NONE, off: int = 0, bits: int = 0
) -> BtfType:
    return BtfType(tid, BtfKind.INT, name, size=size,
                   int_data=BtfInt(enc, off, bits or 8 * size))  # fmt: skip


def _m(name: str, tid: int, bit: int, bitfield: int = 0) -> BtfMember:
    return BtfMember(name, tid, bit, bitfield)


def _arr(tid: int, elem: int, n: int) -> BtfType:
    return BtfType(tid, BtfKind.ARRAY, array_data=BtfArray(elem, 2, n))


# struct rec (64 bytes, then a flexible array):
#   0 u8 small | 1 bits: s3 lo3, enum color en:4, bool ok:1 | 2 short shortv
#   4 union { u32 as_u32; u8 bytes[4]; } | 8 struct inner { u8 count; u32 total; }
#   16 char name[8] | 24 float f | 28 bool b | 29 enum delta d | 30 padding | 32 double dbl
#   40 void *p | 48 long long ll | 56 u8 arr[4] | 60 padding | 64 u32 tail[]
TYPES = [
    _int(1, "unsigned char", 1),
    _int(2, "unsigned int", 4),
    _int(3, "short", 2, SIGNED),
    _int(4, "char", 1, SIGNED),
    _int(5, "_Bool", 1, BOOL),
    _int(6, "long long", 8, SIGNED),
    BtfType(7, BtfKind.FLOAT, "float", size=4),
    BtfType(8, BtfKind.FLOAT, "double", size=8),
    BtfType(9, BtfKind.ENUM, "color", size=4, enum_values=(
        BtfEnumValue("RED", 0, False), BtfEnumValue("GREEN", 1, False),
        BtfEnumValue("BLUE", 7, False))),
    BtfType(10, BtfKind.ENUM, "delta", size=1, kind_flag=True, enum_values=(
        BtfEnumValue("NEG", -1, True), BtfEnumValue("POS", 1, True))),
    _arr(11, 4, 8),
    _arr(12, 1, 4),
    BtfType(13, BtfKind.PTR, ref=0),
    BtfType(14, BtfKind.STRUCT, "inner", size=8, members=(_m("count", 1, 0), _m("total", 2, 32))),
    BtfType(15, BtfKind.UNION, "", size=4, members=(_m("as_u32", 2, 0), _m("bytes", 12, 0))),
    BtfType(16, BtfKind.STRUCT, "rec", size=64, members=(
        _m("small", 1, 0), _m("lo3", 3, 8, 3), _m("en", 9, 11, 4), _m("ok", 5, 15, 1),
        _m("shortv", 3, 16), _m("", 15, 32), _m("inner", 14, 64), _m("name", 11, 128),
        _m("f", 7, 192), _m("b", 5, 224), _m("d", 10, 232), _m("dbl", 8, 256),
        _m("p", 13, 320), _m("ll", 6, 384), _m("arr", 12, 448), _m("tail", 19, 512))),
    BtfType(17, BtfKind.TYPEDEF, "rec_t", ref=16),
    BtfType(18, BtfKind.CONST, ref=17),
    _arr(19, 2, 0),
    # an old-style bitfield struct: no kind_flag, the INTs say how wide
    BtfType(20, BtfKind.STRUCT, "legacy", size=4, members=(_m("a", 21, 0), _m("b", 21, 5))),
    _int(21, "unsigned int", 4, NONE, 0, 5),
    BtfType(22, BtfKind.VAR, "counter", ref=2, linkage=Linkage.GLOBAL),
    BtfType(23, BtfKind.VAR, "label", ref=11, linkage=Linkage.GLOBAL),
    BtfType(24, BtfKind.DATASEC, ".bss", size=0, vars=(
        BtfVarSecinfo(22, 0, 4), BtfVarSecinfo(23, 0, 8))),
    BtfType(25, BtfKind.FWD, "opaque"),
    BtfType(26, BtfKind.STRUCT, "bad", size=8, members=(_m("x", 25, 0),)),
    BtfType(27, BtfKind.FLOAT, "_Float16", size=2),
    BtfType(28, BtfKind.ENUM64, "big", size=8, enum_values=(
        BtfEnumValue("HUGE", 1 << 63, False),)),
    _int(29, "__int128", 16, SIGNED),
    BtfType(30, BtfKind.DATASEC, ".data", size=16, vars=(
        BtfVarSecinfo(22, 0, 4), BtfVarSecinfo(23, 8, 8))),
]  # fmt: skip
REC = 16


@functools.cache
def hand() -> Btf:
    return Btf.parse(encode_btf(TYPES))


def rec_bytes() -> bytes:
    return (
        bytes([200, 0b1_0111_101]) + struct.pack("<h", -2) + struct.pack("<I", 0x04030201)
        + bytes([9, 0xEE, 0xEE, 0xEE]) + struct.pack("<I", 77) + b"pass\0\0\0\0"
        + struct.pack("<f", 1.5) + bytes([1, 0xFF, 0, 0]) + struct.pack("<d", -0.25)
        + struct.pack("<Q", 0xFFFF888000001000) + struct.pack("<q", -5) + bytes([8, 8, 4, 4])
        + bytes(4)
    )  # fmt: skip


REC_VALUE = {
    "small": 200, "lo3": -3, "en": 7, "ok": True, "shortv": -2, "as_u32": 0x04030201,
    "bytes": [1, 2, 3, 4], "inner": {"count": 9, "total": 77}, "name": b"pass\0\0\0\0",
    "f": 1.5, "b": True, "d": -1, "dbl": -0.25, "p": 0xFFFF888000001000, "ll": -5,
    "arr": [8, 8, 4, 4], "tail": [],
}  # fmt: skip


# -- the hand-made BTF ---------------------------------------------------------------------


def test_decode_every_kind() -> None:
    assert decode_value(hand(), REC, rec_bytes()) == REC_VALUE


def test_modifiers_and_typedefs_are_the_type_they_name() -> None:
    assert decode_value(hand(), 18, rec_bytes()) == REC_VALUE
    assert ValueCodec(hand(), 18).size == 64


def test_encode_round_trips_and_zeroes_padding() -> None:
    data = rec_bytes()
    assert encode_value(hand(), REC, REC_VALUE) == data[:9] + bytes(3) + data[12:]  # padding


def test_partial_dicts_leave_the_rest_zero() -> None:
    out = encode_value(hand(), REC, {"inner": {"total": 5}, "en": "BLUE", "name": "hi"})
    assert out[12:16] == struct.pack("<I", 5)
    assert out[1] == 7 << 3
    assert out[16:24] == b"hi" + bytes(6)
    assert sum(out) == 5 + (7 << 3) + sum(b"hi")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"inner": {"count": 300}}, "value.inner.count: 300 does not fit u8"),
        ({"small": -1}, "value.small: -1 does not fit u8"),
        ({"shortv": 1 << 15}, "value.shortv: 32768 does not fit s16"),
        ({"lo3": 4}, "value.lo3: 4 does not fit s3 bitfield"),
        ({"en": 16}, "value.en: 16 does not fit a 4-bit bitfield of enum color"),
        ({"en": "PINK"}, "value.en: 'PINK' is not an enumerator of enum color"),
        ({"d": 256}, "value.d: 256 does not fit enum delta"),
        ({"nope": 1}, "value: struct rec has no member 'nope'"),
        ({"inner": {"count": 1, "x": 2}}, "value.inner: struct inner has no member 'x'"),
        ({"inner": 3}, "value.inner: expected a dict for struct inner, got int"),
        ({"small": "1"}, "value.small: expected an int for u8, got str"),
        ({"arr": [1, 2, 3, 4, 5]}, "value.arr: 5 elements do not fit unsigned char[4]"),
        ({"arr": [1, 256]}, "value.arr[1]: 256 does not fit u8"),
        ({"name": b"123456789"}, "value.name: 9 bytes do not fit char[8]"),
        ({"name": 5}, "value.name: expected a list for char[8], got int"),
        ({"f": 1e39}, "value.f: 1e+39 does not fit a 4-byte float"),
        ({"f": "x"}, "value.f: expected a float for a 4-byte float, got str"),
        ({"p": -1}, "value.p: -1 does not fit a pointer (u64)"),
        ({"tail": [1]}, "value.tail: 1 elements do not fit unsigned int[0]"),
        ([1], "value: expected a dict for struct rec, got list"),
    ],
)
def test_encode_errors_name_the_path(value: object, message: str) -> None:
    with pytest.raises(BtfValueError) as info:
        encode_value(hand(), REC, value)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_enums_decode_to_ints_and_take_names() -> None:
    btf = hand()
    assert encode_value(btf, 9, "BLUE") == encode_value(btf, 9, 7) == bytes([7, 0, 0, 0])
    assert decode_value(btf, 9, bytes([7, 0, 0, 0])) == 7
    assert enum_name(btf, 9, 7) == "BLUE" and enum_name(btf, 9, 3) is None
    assert decode_value(btf, 10, b"\xff") == -1  # kind_flag: signed
    assert enum_name(btf, 10, -1) == "NEG" and enum_name(btf, 10, 255) == "NEG"
    assert encode_value(btf, 10, 255) == encode_value(btf, 10, -1) == b"\xff"  # either range
    assert decode_value(btf, 28, (1 << 63).to_bytes(8, "little")) == 1 << 63
    assert encode_value(btf, 28, "HUGE") == (1 << 63).to_bytes(8, "little")
    with pytest.raises(BtfValueError, match="is not an enum"):
        enum_name(btf, 2, 0)


def test_bitfields_are_read_modify_written() -> None:
    btf = hand()
    out = bytearray(encode_value(btf, REC, {"lo3": -1, "ok": 1}))
    assert out[1] == 0b1_0000_111
    assert decode_value(btf, REC, bytes(out))["en"] == 0  # type: ignore[index]
    assert decode_value(btf, 20, (0b10110_00101).to_bytes(4, "little")) == {"a": 5, "b": 22}
    assert encode_value(btf, 20, {"b": 31}) == (31 << 5).to_bytes(4, "little")
    with pytest.raises(BtfValueError, match=r"value\.a: 32 does not fit u5 bitfield"):
        encode_value(btf, 20, {"a": 32})


def test_union_members_share_bytes_last_written_wins() -> None:
    btf = hand()
    out = encode_value(btf, REC, {"as_u32": 0x11223344, "bytes": [0xAA]})
    assert out[4:8] == bytes([0xAA, 0x33, 0x22, 0x11])
    out = encode_value(btf, 15, {"bytes": b"\x01\x02", "as_u32": 0x11223344})
    assert out == bytes([0x44, 0x33, 0x22, 0x11])


def test_chars_are_bytes_byte_arrays_lists() -> None:
    btf = hand()
    assert decode_value(btf, 11, b"drop-por") == b"drop-por"
    assert decode_value(btf, 12, b"\x08\x08\x08\x08") == [8, 8, 8, 8]
    assert encode_value(btf, 12, b"\x0a\x00") == encode_value(btf, 12, [10]) == b"\x0a" + bytes(3)
    assert encode_value(btf, 11, "é") == "é".encode() + bytes(6)
    assert encode_value(btf, 11, [104, -1]) == b"h\xff" + bytes(6)  # char is signed here


def test_bools_keep_odd_bytes() -> None:
    btf = hand()
    assert decode_value(btf, 5, b"\x01") is True and decode_value(btf, 5, b"\x00") is False
    assert decode_value(btf, 5, b"\x05") == 5 and encode_value(btf, 5, 5) == b"\x05"
    assert encode_value(btf, 5, True) == b"\x01"


@pytest.mark.parametrize(("tid", "raw"), [(7, "0100807f"), (7, "ffffffff"), (27, "017c")])
def test_float_nan_payloads_survive(tid: int, raw: str) -> None:
    value = decode_value(hand(), tid, bytes.fromhex(raw))
    assert isinstance(value, float) and math.isnan(value)
    assert encode_value(hand(), tid, value).hex() == raw


def test_floats() -> None:
    assert encode_value(hand(), 27, 1.5) == struct.pack("<e", 1.5)
    assert encode_value(hand(), 7, float("nan")) == struct.pack("<f", float("nan"))
    assert decode_value(hand(), 29, bytes([0xFF] * 16)) == -1  # __int128


def test_datasec_offsets() -> None:
    btf = hand()
    with pytest.raises(BtfValueError, match="'counter' and 'label' overlap"):
        ValueCodec(btf, 24)
    codec = ValueCodec(btf, 24, var_offsets={"label": 8}, size=16)
    data = struct.pack("<I", 3) + bytes(4) + b"drop-len"
    assert codec.decode(data) == {"counter": 3, "label": b"drop-len"}
    assert codec.encode({"label": "x"}) == bytes(8) + b"x" + bytes(7)
    with pytest.raises(BtfValueError, match=r"DATASEC \.bss has no variable 'other'"):
        codec.encode({"other": 1})
    assert decode_value(btf, 30, data) == {"counter": 3, "label": b"drop-len"}  # laid out
    with pytest.raises(BtfValueError, match="variables end at 16, past its 12 bytes"):
        ValueCodec(btf, 30, size=12)


def test_types_without_values() -> None:
    with pytest.raises(BtfValueError, match="FWD struct opaque has no value"):
        ValueCodec(hand(), 26)
    with pytest.raises(BtfValueError, match="void has no value"):
        ValueCodec(hand(), 0)
    with pytest.raises(BtfValueError, match="3 bytes given, struct inner is 8 bytes"):
        decode_value(hand(), 14, b"abc")


# -- the example objects ---------------------------------------------------------------------


@functools.cache
def example(name: str) -> Btf:
    path = EXAMPLES / f"{name}.bpf.o"
    btf = load_object(path.read_bytes(), str(path)).btf
    assert btf is not None
    return btf


def test_spin_lock_value_is_a_plain_struct() -> None:
    btf = example("spin_lock")
    tid = btf.find("src_stats", BtfKind.STRUCT)
    assert tid is not None
    raw = bytes.fromhex("000000004800000006000000000000009801000000000000")
    value = {"lock": {"val": 0}, "max_len": 72, "packets": 6, "bytes": 408}
    assert decode_value(btf, tid, raw) == value
    assert encode_value(btf, tid, value) == raw


def test_lpm_key_and_route() -> None:
    btf = example("lpm_route")
    key, route = btf.find("route_key"), btf.find("route")
    assert key is not None and route is not None
    assert decode_value(btf, key, bytes.fromhex("1800000008080800")) == {
        "prefixlen": 24, "addr": [8, 8, 8, 0]}  # fmt: skip
    value = {"action": 1, "src_mac": b"\x02\xaa\0\0\0\x01", "dst_mac": [2, 0xCC, 0, 0, 0, 3]}
    assert encode_value(btf, route, value).hex() == "0100000002aa0000000102cc00000003"


def test_global_data_with_the_elf_symbols() -> None:
    path = EXAMPLES / "global_config.bpf.o"
    obj = read_object(path.read_bytes())
    btf = example("global_config")
    sec = obj.section(".bss")
    assert sec is not None
    offsets = {s.name: s.value for s in obj.symbols_in(sec.index)}
    tid = btf.find(".bss", BtfKind.DATASEC)
    assert tid is not None
    codec = ValueCodec(btf, tid, var_offsets=offsets, size=sec.size)
    raw = bytes.fromhex(
        "01000000000000004a0000000000000000000000000000000100000000000000000000000000000064726f"
        "702d70726f"
    )
    assert codec.decode(raw) == {
        "total_packets": 1, "total_bytes": 74, "dropped_len": 0, "dropped_proto": 1,
        "dropped_port": 0, "last_verdict": b"drop-pro",
    }  # fmt: skip
    assert codec.encode(codec.decode(raw)) == raw


# -- round-trip properties ---------------------------------------------------------------------


def _ones(n: int, at: int = 0) -> int:
    return ((1 << n) - 1) << at


@functools.cache
def covered(btf: Btf, tid: int) -> int:
    """The bits of ``tid`` that C members cover, as an int (a second implementation)."""
    t = btf[btf.strip(tid)]
    if t.kind == BtfKind.VAR:
        return covered(btf, t.ref)
    if t.kind == BtfKind.INT:
        return _ones(t.int_info.bits, t.int_info.offset)
    if t.kind in (BtfKind.PTR, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FLOAT):
        return _ones(8 * btf.resolve_size(t.id))
    mask = 0
    if t.kind == BtfKind.ARRAY:
        elem, step = covered(btf, t.array.type), 8 * btf.resolve_size(t.array.type)
        for i in range(t.array.nelems):
            mask |= elem << i * step
    elif t.is_composite:
        for m in t.members:
            if m.bitfield_size:
                mask |= _ones(m.bitfield_size, m.bit_offset) if m.name else 0
            elif m.name or btf[btf.strip(m.type)].is_composite:
                mask |= covered(btf, m.type) << m.bit_offset
    elif t.kind == BtfKind.DATASEC:
        for info in t.vars:
            mask |= covered(btf, info.type) << 8 * info.offset
    return mask


def check_round_trip(btf: Btf, tid: int, data: bytes) -> None:
    codec = ValueCodec(btf, tid)
    out = codec.encode(codec.decode(data))
    expect = int.from_bytes(data, "little") & covered(btf, tid)
    assert out == expect.to_bytes(len(data), "little"), tid
    assert codec.encode(codec.decode(out)) == out


VALUE_KINDS = frozenset(
    {BtfKind.STRUCT, BtfKind.UNION, BtfKind.ARRAY, BtfKind.DATASEC, BtfKind.INT, BtfKind.ENUM,
     BtfKind.ENUM64, BtfKind.TYPEDEF, BtfKind.FLOAT, BtfKind.PTR}
)  # fmt: skip


def value_types(btf: Btf, max_size: int = 1 << 30) -> list[int]:
    """Ids of the types with a value (DATASECs only when laid out), sized at most max_size."""
    out = []
    for tid in range(1, len(btf)):
        if btf.kind(tid) not in VALUE_KINDS:
            continue
        try:
            size = ValueCodec(btf, tid).size
        except BtfValueError:
            continue  # FWD members, unplaced DATASECs
        if size <= max_size:
            out.append(tid)
    return out


EXAMPLE_TYPES = [
    (name, tid)
    for name in ("spin_lock", "proto_counters", "lpm_route", "global_config", "xdp_firewall")
    for tid in value_types(example(name))
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLE_TYPES), st.data())
def test_round_trip_example_types(which: tuple[str, int], data: st.DataObject) -> None:
    btf = example(which[0])
    size = ValueCodec(btf, which[1]).size
    check_round_trip(btf, which[1], data.draw(st.binary(min_size=size, max_size=size)))


HAND_TYPES = value_types(hand())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HAND_TYPES), st.data())
def test_round_trip_hand_types(tid: int, data: st.DataObject) -> None:
    size = ValueCodec(hand(), tid).size
    check_round_trip(hand(), tid, data.draw(st.binary(min_size=size, max_size=size)))


def test_round_trip_bundled(bundled: Btf) -> None:
    rng = random.Random(7)
    for tid in value_types(bundled):
        check_round_trip(bundled, tid, rng.randbytes(ValueCodec(bundled, tid).size))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_round_trip_vmlinux_property(vmlinux: Btf, data: st.DataObject) -> None:
    tid = data.draw(st.sampled_from(vmlinux_types(vmlinux)))
    size = ValueCodec(vmlinux, tid).size
    check_round_trip(vmlinux, tid, data.draw(st.binary(min_size=size, max_size=size)))


@functools.cache
def vmlinux_types(vmlinux: Btf) -> list[int]:
    return value_types(vmlinux, max_size=2048)


def test_every_vmlinux_struct_round_trips(vmlinux: Btf) -> None:
    """One random value of every struct, union and DATASEC of the kernel (task_struct too)."""
    rng = random.Random(1)
    count = 0
    for tid in range(1, len(vmlinux)):
        if vmlinux.kind(tid) in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.DATASEC):
            check_round_trip(vmlinux, tid, rng.randbytes(ValueCodec(vmlinux, tid).size))
            count += 1
    assert count > 1000
