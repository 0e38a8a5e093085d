"""Writing BTF back: parse(encode(btf)) gives the same types; split BTF; the bundled file."""

from __future__ import annotations

import pytest

from bpfvm.btf import Btf, BtfInt, BtfKind, BtfMember, BtfType, IntEncoding, encode_btf
from bpfvm.errors import InputError

from .conftest import Obj


def same_types(a: Btf, b: Btf) -> None:
    assert len(a) == len(b)
    for tid in range(len(a)):
        assert a[tid] == b[tid], tid


def test_object_round_trip(core_task: Obj, core_net: Obj) -> None:
    for obj in (core_task, core_net):
        again = Btf.parse(encode_btf(obj.btf))
        same_types(obj.btf, again)
        assert encode_btf(again) == encode_btf(obj.btf)


def test_bundled_round_trip_is_byte_exact(bundled: Btf) -> None:
    assert encode_btf(bundled) == bundled.data


def test_vmlinux_round_trip(vmlinux: Btf) -> None:
    same_types(vmlinux, Btf.parse(encode_btf(vmlinux)))


def test_split_btf() -> None:
    int_t = BtfType(1, BtfKind.INT, "int", size=4, int_data=BtfInt(IntEncoding.SIGNED, 0, 32))
    base = Btf.parse(encode_btf([int_t, BtfType(2, BtfKind.PTR, ref=1)]))
    pair = (BtfMember("a", 1, 0), BtfMember("p", 2, 64))
    own = [
        BtfType(3, BtfKind.STRUCT, "pair", size=16, members=pair),
        BtfType(4, BtfKind.TYPEDEF, "pair_t", ref=3),
    ]
    raw = encode_btf(own, base=base)
    split = Btf.parse(raw, base=base)
    assert split.start_id == 3 and len(split) == 5
    assert split[1] is base[1]
    assert split.type_name(4) == "pair_t" and split.type_name(split.strip(4)) == "struct pair"
    assert split.member_offset(4, "p") == 64
    assert split.find("int") == 1 and split.find("pair", BtfKind.STRUCT) == 3
    assert split.find_all("pair_t") == [4]
    same_types(split, Btf.parse(encode_btf(split), base=base))
    with pytest.raises(InputError, match="BTF: "):
        Btf.parse(raw)  # without the base: its first string is not the empty one


def test_encode_refuses_ids_out_of_order() -> None:
    with pytest.raises(InputError, match="type id 2 out of order"):
        encode_btf([BtfType(2, BtfKind.PTR)])


def test_bitfields_force_kind_flag() -> None:
    int_t = BtfType(1, BtfKind.INT, "int", size=4, int_data=BtfInt(IntEncoding.SIGNED, 0, 32))
    s = BtfType(2, BtfKind.STRUCT, "s", size=4, members=(BtfMember("x", 1, 3, 5),))
    back = Btf.parse(encode_btf([int_t, s]))[2]
    assert back.kind_flag and back.members[0] == BtfMember("x", 1, 3, 5) and back.vlen == 1
