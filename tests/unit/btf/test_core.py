"""CO-RE relocations: clang-built objects against the kernel's BTF and the bundled BTF, and
synthetic local/target pairs for the corner cases (ambiguity, poisoning, malformed records)."""

from __future__ import annotations

import pytest

from bpfvm.btf import (
    POISON_HELPER_ID,
    POISON_INSN,
    Btf,
    BtfArray,
    BtfEnumValue,
    BtfInt,
    BtfKind,
    BtfMember,
    BtfParam,
    BtfType,
    CandidateCache,
    CoreRelo,
    CoreReloKind,
    IntEncoding,
    apply_core_relo,
    apply_core_relo_slots,
    calc_core_relo,
    encode_btf,
    patch_core_insn,
)
from bpfvm.btf.core import parse_access_string
from bpfvm.errors import InputError
from bpfvm.isa.insn import Insn, ld_imm64

from .conftest import Obj

K = CoreReloKind


def relocate(obj: Obj, target: Btf) -> dict[tuple[str, int], tuple[Insn, ...]]:
    """(section, slot) -> patched instruction(s), for every relocation of ``obj``."""
    cache = CandidateCache()
    out = {}
    for sec, relos in obj.ext.core_relos.items():
        for idx, relo in enumerate(relos):
            insn = obj.insn(sec, relo.insn_off // 8)
            out[sec, relo.insn_off // 8] = apply_core_relo_slots(
                insn, relo, obj.btf, target, cache=cache, prog_name=sec, relo_idx=idx
            )
    return out


def struct_id(btf: Btf, name: str) -> int:
    tid = btf.find(name, BtfKind.STRUCT)
    assert tid is not None
    return tid


def offset(btf: Btf, struct: str, path: str) -> int:
    """Byte offset through find_member/member_offset, not through the CO-RE matcher."""
    return btf.member_offset(struct_id(btf, struct), path) // 8


@pytest.fixture(params=["vmlinux", "bundled"])
def target(request: pytest.FixtureRequest) -> Btf:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_task_struct_reads(core_task: Obj, target: Btf) -> None:
    got = relocate(core_task, target)
    sec = "raw_tracepoint/sys_enter"
    assert got[sec, 2][0].imm == offset(target, "task_struct", "real_parent")
    assert got[sec, 9][0].imm == offset(target, "task_struct", "tgid")
    assert got[sec, 16][0].imm == offset(target, "task_struct", "pid")
    assert got[sec, 24][0].imm == offset(target, "task_struct", "comm[3]")
    assert got[sec, 32][0].imm == offset(target, "task_struct", "comm")
    assert got[sec, 37][0].imm == 16  # bpf_core_field_size(t->comm)
    assert got[sec, 2][0] == Insn(0xB7, dst=1, imm=got[sec, 2][0].imm)  # still r1 = imm


def test_existence_and_type_relos(core_task: Obj, target: Btf) -> None:
    got = relocate(core_task, target)
    sec = "raw_tracepoint/sys_exit"
    assert got[sec, 1][0].imm == 0  # task_struct___old.state: renamed __state in 5.14
    assert got[sec, 5][0].imm == 1  # task_struct___new.__state
    assert got[sec, 7][0].imm == offset(target, "task_struct", "__state")
    assert got[sec, 17][0].imm == 0  # struct does_not_exist
    assert got[sec, 20][0].imm == 1
    assert got[sec, 23][0].imm == target.resolve_size(struct_id(target, "task_struct"))
    assert got[sec, 25][0].imm64 == struct_id(target, "task_struct")  # TYPE_ID_TARGET
    assert got[sec, 28][0].imm64 == core_task.btf.find("task_struct", BtfKind.STRUCT)


def test_direct_loads_resize_and_poison(core_task: Obj, target: Btf) -> None:
    got = relocate(core_task, target)
    flags = got["fentry/do_nanosleep", 1][0]
    # local u64 flags, kernel unsigned int: LDX DW becomes LDX W at the kernel offset
    assert flags == Insn(0x61, dst=2, src=1, off=offset(target, "task_struct", "flags"))
    pid = got["fentry/do_nanosleep", 2][0]
    assert pid == Insn(0x61, dst=0, src=1, off=offset(target, "task_struct", "pid"))
    assert got["fentry/do_exit", 0] == (POISON_INSN,)  # no such field anywhere
    assert got["fentry/do_exit", 9] == (POISON_INSN,)  # signed long long -> int: no resize
    assert Insn(0x85, imm=POISON_HELPER_ID) == POISON_INSN and POISON_HELPER_ID == 195896080


def test_anonymous_members_bitfields_and_enums(core_net: Obj, vmlinux: Btf) -> None:
    got = relocate(core_net, vmlinux)
    sec = "tp_btf/kfree_skb"
    assert got[sec, 0][0].imm == 16  # sk_buff.dev, inside anonymous unions/structs
    assert got[sec, 9][0].imm == offset(vmlinux, "net_device", "ifindex")
    assert got[sec, 16][0].imm == offset(vmlinux, "sk_buff", "len")
    pkt_bits = vmlinux.member_offset(struct_id(vmlinux, "sk_buff"), "pkt_type")
    assert got[sec, 28][0].imm == pkt_bits // 8  # byte holding the 3-bit field
    assert got[sec, 32][0].imm == 1  # its byte size
    assert got[sec, 36][0].imm == 64 - (pkt_bits % 8 + 3)  # lshift
    assert got[sec, 37][0].imm == 0  # unsigned
    assert got[sec, 39][0].imm == got[sec, 41][0].imm == 61  # rshift
    # tcphdr.doff: bits 100..103 of a __u16 at byte 12
    assert [got[sec, s][0].imm for s in (44, 49, 52, 53, 55)] == [12, 2, 56, 0, 60]
    # tcphdr.syn: bit 105
    assert [got[sec, s][0].imm for s in (60, 65, 68, 69, 71)] == [12, 2, 54, 0, 63]
    assert got[sec, 105][0].imm64 == 1  # enumval exists
    assert got[sec, 109][0].imm64 == 1  # BPF_FUNC_map_lookup_elem (local says 1000)
    assert got[sec, 111][0].imm64 == 0  # no such helper
    assert got[sec, 117][0].imm64 == 2  # XDP_PASS (local says 99)
    assert got[sec, 120] == (POISON_INSN, POISON_INSN)  # ld_imm64: both slots poisoned


def test_single_insn_api(core_net: Obj, vmlinux: Btf) -> None:
    relo = core_net.ext.core_relos["tp_btf/kfree_skb"][0]
    insn = core_net.insn("tp_btf/kfree_skb", 0)
    assert apply_core_relo(insn, relo, core_net.btf, vmlinux) == Insn(0xB7, dst=2, imm=16)


# -- synthetic BTF --------------------------------------------------------------------------

INT = BtfType(1, BtfKind.INT, "int", size=4, int_data=BtfInt(IntEncoding.SIGNED, 0, 32))
UINT = BtfType(2, BtfKind.INT, "unsigned int", size=4, int_data=BtfInt(IntEncoding.NONE, 0, 32))


def make(*types: BtfType) -> Btf:
    return Btf.parse(encode_btf(types))


def struct(tid: int, name: str, *members: tuple[str, int, int], size: int = 16) -> BtfType:
    return BtfType(
        tid, BtfKind.STRUCT, name, size=size, members=tuple(BtfMember(*m) for m in members)
    )


def calc(local: Btf, target: Btf, type_id: int, access: str, kind: K, **kw: object):  # type: ignore[no-untyped-def]
    return calc_core_relo(CoreRelo(0, type_id, access, kind), local, target, **kw)  # type: ignore[arg-type]


LOCAL = make(INT, UINT, struct(3, "foo", ("a", 1, 0), ("b", 2, 32)))


def test_flavours_must_agree() -> None:
    same = make(INT, UINT, struct(3, "foo", ("b", 2, 64)), struct(4, "foo___v2", ("b", 2, 64)))
    assert calc(LOCAL, same, 3, "0:1", K.FIELD_BYTE_OFFSET).new_val == 8
    differ = make(INT, UINT, struct(3, "foo", ("b", 2, 64)), struct(4, "foo___v2", ("b", 2, 96)))
    with pytest.raises(InputError, match=r"relo #0: field offset ambiguity: 96 != 64"):
        calc(LOCAL, differ, 3, "0:1", K.FIELD_BYTE_OFFSET)


def test_candidates_are_pruned_per_local_type() -> None:
    # foo matches for 'a' only in the first flavour; libbpf then keeps only that candidate
    target = make(INT, UINT, struct(3, "foo", ("a", 1, 0)), struct(4, "foo___x", ("b", 2, 0)))
    cache = CandidateCache()
    assert calc(LOCAL, target, 3, "0:0", K.FIELD_BYTE_OFFSET, cache=cache).new_val == 0
    assert cache.cands[3] == [3]
    assert calc(LOCAL, target, 3, "0:1", K.FIELD_BYTE_OFFSET, cache=cache).poison
    assert not calc(LOCAL, target, 3, "0:1", K.FIELD_BYTE_OFFSET).poison  # fresh cache


def test_incompatible_field_types_do_not_match() -> None:
    ptr = BtfType(4, BtfKind.PTR, ref=1)
    target = make(INT, UINT, struct(3, "foo", ("a", 4, 0)), ptr)
    res = calc(LOCAL, target, 3, "0:0", K.FIELD_BYTE_OFFSET)
    assert res.poison
    assert calc(LOCAL, target, 3, "0:0", K.FIELD_EXISTS).new_val == 0


def test_arrays_and_flexible_arrays() -> None:
    arr = BtfType(4, BtfKind.ARRAY, array_data=BtfArray(1, 1, 4))
    flex = BtfType(5, BtfKind.ARRAY, array_data=BtfArray(1, 1, 0))
    local = make(INT, UINT, struct(3, "bar", ("x", 4, 0), ("tail", 5, 128)), arr, flex)
    short = BtfType(4, BtfKind.ARRAY, array_data=BtfArray(1, 1, 2))
    target = make(INT, UINT, struct(3, "bar", ("x", 4, 32), ("tail", 5, 96)), short, flex)
    assert calc(local, target, 3, "0:0:1", K.FIELD_BYTE_OFFSET).new_val == 8
    assert calc(local, target, 3, "0:0:3", K.FIELD_BYTE_OFFSET).poison  # beyond 2 elements
    assert calc(local, target, 3, "0:1:7", K.FIELD_BYTE_OFFSET).new_val == 12 + 28  # flexible
    assert calc(local, target, 3, "1:0", K.FIELD_BYTE_OFFSET).new_val == 16 + 4  # &p[1].x
    assert calc(local, target, 3, "0:0:1", K.FIELD_BYTE_SIZE).new_val == 4
    with pytest.raises(InputError, match="can't be applied to array access"):
        calc(local, target, 3, "0:0:1", K.FIELD_SIGNED)
    with pytest.raises(InputError, match=r"parsing \[3\] struct bar \+ 0:0:9 failed"):
        calc(local, target, 3, "0:0:9", K.FIELD_BYTE_OFFSET)


@pytest.mark.parametrize("access", ["", ":0", "0:", "0:a", "-1", "0::1", "0:x1", " 0"])
def test_malformed_access_strings(access: str) -> None:
    with pytest.raises(InputError, match=r"prog 'p': relo #3: parsing \[3\] struct foo"):
        calc(LOCAL, LOCAL, 3, access, K.FIELD_BYTE_OFFSET, prog_name="p", relo_idx=3)
    with pytest.raises(InputError, match="malformed"):
        parse_access_string(access)


def test_parse_access_string() -> None:
    assert parse_access_string("0:1:22") == [0, 1, 22]


def test_bad_relocation_records() -> None:
    with pytest.raises(InputError, match="bad type id 99"):
        calc(LOCAL, LOCAL, 99, "0", K.TYPE_EXISTS)
    with pytest.raises(InputError, match=r"unrecognized CO-RE relocation unknown \(13\)"):
        calc(LOCAL, LOCAL, 3, "0", 13)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs access string '0'"):
        calc(LOCAL, LOCAL, 3, "1", K.TYPE_EXISTS)
    with pytest.raises(InputError, match="member index 5 beyond"):
        calc(LOCAL, LOCAL, 3, "0:5", K.FIELD_BYTE_OFFSET)
    with pytest.raises(InputError, match="of unexpected kind INT"):
        calc(LOCAL, LOCAL, 3, "0:0:0", K.FIELD_BYTE_OFFSET)
    anon = make(INT, UINT, struct(3, "", ("a", 1, 0)))
    with pytest.raises(InputError, match=r"target candidate search failed for \[3\] struct <anon>"):
        calc(anon, LOCAL, 3, "0:0", K.FIELD_BYTE_OFFSET)
    assert calc(anon, LOCAL, 3, "0", K.TYPE_ID_LOCAL).new_val == 3  # no candidates needed


def test_enum_and_enum64() -> None:
    local = make(
        INT,
        BtfType(
            2,
            BtfKind.ENUM,
            "e",
            size=4,
            enum_values=(BtfEnumValue("A___x", -1, True),),
            kind_flag=True,
        ),
    )
    target = make(
        INT,
        BtfType(
            2, BtfKind.ENUM64, "e___y", size=8, enum_values=(BtfEnumValue("A", 1 << 40, False),)
        ),
    )
    res = calc(local, target, 2, "0", K.ENUMVAL_VALUE)
    assert (res.orig_val, res.new_val) == (2**64 - 1, 1 << 40)  # s32 -1 sign-extended, as libbpf
    (insn,) = patch_core_insn(ld_imm64(1, -1), res)
    assert insn == ld_imm64(1, 1 << 40)
    with pytest.raises(InputError, match=r"unexpected insn #0 \(LDIMM64\) value: got 5"):
        patch_core_insn(ld_imm64(1, 5), res)


def test_type_matches_and_compat() -> None:
    proto = BtfType(4, BtfKind.FUNC_PROTO, ref=1, params=(BtfParam("x", 2),))
    fn_ptr = BtfType(5, BtfKind.PTR, ref=4)
    local = make(INT, UINT, struct(3, "foo", ("a", 1, 0), ("cb", 5, 64)), proto, fn_ptr)
    wider = make(
        INT, UINT, struct(3, "foo", ("z", 2, 0), ("cb", 5, 64), ("a", 1, 96)), proto, fn_ptr
    )
    assert calc(local, wider, 3, "0", K.TYPE_MATCHES).new_val == 1
    assert calc(local, wider, 3, "0", K.TYPE_EXISTS).new_val == 1
    renamed = make(INT, UINT, struct(3, "foo", ("b", 1, 0), ("cb", 5, 64)), proto, fn_ptr)
    assert calc(local, renamed, 3, "0", K.TYPE_MATCHES).new_val == 0
    assert calc(local, renamed, 3, "0", K.TYPE_EXISTS).new_val == 1  # compat ignores members
    proto2 = BtfType(4, BtfKind.FUNC_PROTO, ref=1, params=(BtfParam("x", 1),))  # signed param
    signed = make(INT, UINT, struct(3, "foo", ("a", 1, 0), ("cb", 5, 64)), proto2, fn_ptr)
    assert calc(local, signed, 3, "0", K.TYPE_MATCHES).new_val == 0
    with pytest.raises(InputError, match=r"candidate search failed for \[5\] ptr <anon>"):
        calc(local, local, 5, "0", K.TYPE_SIZE)  # libbpf refuses anonymous local types


def test_patch_checks() -> None:
    res = calc(
        LOCAL, make(INT, UINT, struct(3, "foo", ("a", 1, 64))), 3, "0:0", K.FIELD_BYTE_OFFSET
    )
    assert patch_core_insn(Insn(0x07, dst=1, imm=0), res) == (Insn(0x07, dst=1, imm=8),)
    assert patch_core_insn(Insn(0x61, dst=1, src=2, off=0), res) == (Insn(0x61, 1, 2, 8),)
    assert patch_core_insn(Insn(0x62, dst=1, off=0, imm=7), res) == (Insn(0x62, 1, 0, 8, 7),)
    with pytest.raises(
        InputError, match=r"unexpected insn #4 \(ALU/ALU64\) value: got 3, exp 0 -> 8"
    ):
        patch_core_insn(Insn(0x07, dst=1, imm=3), res, insn_idx=4)
    with pytest.raises(InputError, match="not an immediate"):
        patch_core_insn(Insn(0x0F, dst=1, src=2), res)
    with pytest.raises(InputError, match="unexpected insn #0 \\(LDX/ST/STX\\) value: got 2"):
        patch_core_insn(Insn(0x61, dst=1, src=2, off=2), res)
    with pytest.raises(InputError, match="trying to relocate unrecognized insn"):
        patch_core_insn(Insn(0x05, off=1), res)
    with pytest.raises(InputError, match="LDIMM64\\) has unexpected form"):
        patch_core_insn(Insn(0x18, dst=1, src=1), res)
    with pytest.raises(InputError, match="unexpected mem size: got 8, exp 4"):
        patch_core_insn(Insn(0x79, 1, 2, 0), _resized(res, 4, 2))
    far = make(INT, UINT, struct(3, "foo", ("a", 1, 8 * 40000), size=40004))
    res = calc(LOCAL, far, 3, "0:0", K.FIELD_BYTE_OFFSET)
    with pytest.raises(InputError, match="value too big: 40000"):
        patch_core_insn(Insn(0x61, dst=1, src=2), res)


def _resized(res, orig: int, new: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(res, orig_sz=orig, new_sz=new)


def test_unsigned_load_shrinks_and_grows() -> None:
    u64 = BtfType(3, BtfKind.INT, "u64", size=8, int_data=BtfInt(IntEncoding.NONE, 0, 64))
    local = make(INT, UINT, u64, struct(4, "foo", ("a", 3, 0)))
    target = make(INT, UINT, struct(3, "foo", ("a", 2, 32)))
    res = calc(local, target, 4, "0:0", K.FIELD_BYTE_OFFSET)
    assert (res.orig_sz, res.new_sz, res.fail_memsz_adjust) == (8, 4, False)
    assert patch_core_insn(Insn(0x79, 1, 2, 0), res) == (Insn(0x61, 1, 2, 4),)
    assert patch_core_insn(Insn(0x7B, 2, 1, 0), res) == (Insn(0x63, 2, 1, 4),)  # STX too
