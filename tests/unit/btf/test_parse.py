"""Parsing BTF: the kernel's vmlinux BTF, clang-built objects, split module BTF, C text."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bpfvm.btf import Btf, BtfKind, IntEncoding, Linkage, essential_name
from bpfvm.errors import InputError

from .conftest import Obj

# UAPI layouts (ABI, checked against offsetof() of the uapi headers): struct, member -> byte
# offset, and struct sizes. The bundled BTF must agree too (test_target.py).
UAPI_OFFSETS = {
    ("__sk_buff", "len"): 0,
    ("__sk_buff", "cb"): 48,
    ("__sk_buff", "data"): 76,
    ("__sk_buff", "data_end"): 80,
    ("__sk_buff", "remote_ip6"): 100,
    ("__sk_buff", "tstamp"): 152,
    ("__sk_buff", "sk"): 168,
    ("__sk_buff", "hwtstamp"): 184,
    ("xdp_md", "egress_ifindex"): 20,
    ("ethhdr", "h_proto"): 12,
    ("iphdr", "saddr"): 12,
    ("iphdr", "daddr"): 16,
    ("ipv6hdr", "saddr"): 8,
    ("ipv6hdr", "daddr"): 24,
    ("tcphdr", "window"): 14,
    ("udphdr", "check"): 6,
    ("pt_regs", "ax"): 80,
    ("pt_regs", "di"): 112,
    ("pt_regs", "ip"): 128,
    ("pt_regs", "sp"): 152,
}
UAPI_SIZES = {
    "__sk_buff": 192,
    "xdp_md": 24,
    "ethhdr": 14,
    "iphdr": 20,
    "ipv6hdr": 40,
    "tcphdr": 20,
    "udphdr": 8,
    "pt_regs": 168,
    "bpf_raw_tracepoint_args": 0,
}


def check_uapi_layouts(btf: Btf) -> None:
    for (struct, member), off in UAPI_OFFSETS.items():
        sid = btf.find(struct, BtfKind.STRUCT)
        assert sid is not None, struct
        assert btf.member_offset(sid, member) == 8 * off, (struct, member)
    for struct, size in UAPI_SIZES.items():
        sid = btf.find(struct, BtfKind.STRUCT)
        assert sid is not None
        assert btf.resolve_size(sid) == size, struct


def test_vmlinux_parses_quickly(vmlinux_raw: bytes) -> None:
    start = time.perf_counter()
    btf = Btf.parse(vmlinux_raw)
    elapsed = time.perf_counter() - start
    assert len(btf) > 50_000
    assert elapsed < 2.0, f"vmlinux BTF took {elapsed:.2f}s"


def test_vmlinux_uapi_layouts(vmlinux: Btf) -> None:
    check_uapi_layouts(vmlinux)


def test_vmlinux_sk_buff_bitfields_and_anonymous_members(vmlinux: Btf) -> None:
    skb = vmlinux.find("sk_buff", BtfKind.STRUCT)
    assert skb is not None
    # dev sits in union { struct { next, prev, union { dev, ... } } ... } at the start
    assert vmlinux.member_offset(skb, "dev") == 16 * 8
    found = vmlinux.find_member(skb, "pkt_type")
    assert found is not None
    member, bits = found
    assert member.bitfield_size == 3
    assert vmlinux.type_name(member.type) == "__u8"
    assert vmlinux.member_offset(skb, "pkt_type") == bits
    tcp = vmlinux.find("tcphdr", BtfKind.STRUCT)
    assert tcp is not None
    doff = vmlinux.find_member(tcp, "doff")
    assert doff is not None and doff[0].bitfield_size == 4 and doff[1] == 12 * 8 + 4


def test_vmlinux_kinds_and_records(vmlinux: Btf) -> None:
    int_id = vmlinux.find("int", BtfKind.INT)
    assert int_id is not None
    info = vmlinux[int_id].int_info
    assert (info.bits, info.offset, info.signed, vmlinux[int_id].size) == (32, 0, True, 4)
    char = vmlinux[vmlinux.find("char", BtfKind.INT) or 0]
    assert char.int_info.encoding & IntEncoding.CHAR or not char.int_info.signed
    bool_t = vmlinux[vmlinux.find("_Bool", BtfKind.INT) or 0]
    assert bool_t.int_info.bool
    func_id = vmlinux.find("bpf_func_id", BtfKind.ENUM)
    assert func_id is not None
    values = {v.name: v.value for v in vmlinux[func_id].enum_values}
    assert values["BPF_FUNC_map_lookup_elem"] == 1
    assert values["BPF_FUNC_trace_printk"] == 6
    func = vmlinux.find("bpf_prog_load", BtfKind.FUNC)
    assert func is not None and vmlinux[func].linkage in (Linkage.STATIC, Linkage.GLOBAL)
    proto = vmlinux[vmlinux[func].ref]
    assert proto.kind == BtfKind.FUNC_PROTO
    assert vmlinux.type_name(proto.ret) == "int"
    assert [p.name for p in proto.params] == ["attr", "uattr", "uattr_size"]
    assert vmlinux.find("no_such_type_anywhere") is None
    assert vmlinux.types[0].kind == BtfKind.UNKN
    assert vmlinux.types[-1].id == len(vmlinux) - 1


def test_vmlinux_every_type_decodes_and_sizes(vmlinux: Btf) -> None:
    sized = 0
    unsized = (BtfKind.FUNC_PROTO, BtfKind.FWD, BtfKind.UNKN)
    for t in vmlinux.types:
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.TYPEDEF, BtfKind.ARRAY):
            if vmlinux.kind(vmlinux.strip(t.id)) in unsized:
                with pytest.raises(InputError, match="cannot resolve the size"):
                    vmlinux.resolve_size(t.id)
            else:
                assert vmlinux.resolve_size(t.id) >= 0
                sized += 1
    assert sized > 10_000


def test_vmlinux_datasec_var_and_c_text(vmlinux: Btf) -> None:
    sec = vmlinux.find(".data..percpu", BtfKind.DATASEC)
    assert sec is not None
    secinfo = vmlinux[sec].vars
    assert secinfo and all(vmlinux.kind(v.type) == BtfKind.VAR for v in secinfo)
    file_ops = vmlinux.find("file_operations", BtfKind.STRUCT)
    assert file_ops is not None
    text = vmlinux.describe(file_ops)
    assert "\tssize_t (*read)(struct file *, char *, size_t, loff_t *);" in text


def test_module_split_btf(vmlinux: Btf) -> None:
    modules = sorted(p for p in Path("/sys/kernel/btf").iterdir() if p.name != "vmlinux")
    if not modules:
        pytest.skip("no module BTF")
    mod = Btf.parse(modules[0].read_bytes(), base=vmlinux)
    assert mod.start_id == len(vmlinux)
    assert len(mod) > mod.start_id
    assert mod[1] == vmlinux[1]  # base ids resolve through the base
    assert mod.find("int", BtfKind.INT) == vmlinux.find("int", BtfKind.INT)
    for t in mod.types[mod.start_id :]:  # every own type decodes; refs may point to base
        mod.type_name(t.id)
    with pytest.raises(InputError, match="BTF: "):
        Btf.parse(modules[0].read_bytes())  # without its base: dangling ids/strings


def test_object_btf(core_task: Obj) -> None:
    btf = core_task.btf
    ts = btf.find("task_struct", BtfKind.STRUCT)
    assert ts is not None
    t = btf[ts]
    assert [m.name for m in t.members] == ["pid", "tgid", "flags", "comm", "real_parent"]
    assert [m.bit_offset for m in t.members] == [0, 32, 64, 128, 256]
    assert btf.resolve_size(ts) == 40
    assert btf.type_name(t.members[3].type) == "char[16]"
    assert btf.type_name(t.members[4].type) == "struct task_struct *"
    assert btf.type_name(t.members[2].type) == "unsigned long long"
    assert btf.member_offset(ts, "comm[3]") == 8 * 19
    assert btf.find("task_struct___old") is not None
    funcs = [x.name for x in btf.types if x.kind == BtfKind.FUNC]
    assert funcs == ["read_task", "exists", "direct", "poisoned"]
    lic = btf[btf.find("license", BtfKind.DATASEC) or 0]
    assert lic.size == 0 and lic.vars[0].size == 4  # sizes are fixed up by the loader


def test_object_bitfields(core_net: Obj) -> None:
    btf = core_net.btf
    tcp = btf[btf.find("tcphdr", BtfKind.STRUCT) or 0]
    assert tcp.kind_flag
    bits = {m.name: (m.bit_offset, m.bitfield_size) for m in tcp.members}
    assert bits["res1"] == (96, 4)
    assert bits["doff"] == (100, 4)
    assert bits["syn"] == (105, 1)
    assert bits["window"] == (112, 0)
    assert "\t__u16 doff: 4;" in btf.describe(tcp.id)


def test_strip_and_c_names(core_net: Obj) -> None:
    btf = core_net.btf
    plain = btf.find("plain_skb", BtfKind.FUNC)
    assert plain is not None
    assert btf.describe(plain) == "int plain_skb(struct __sk_buff *skb);"
    u16 = btf.find("__u16", BtfKind.TYPEDEF)
    assert u16 is not None
    assert btf.kind(btf.strip(u16)) == BtfKind.INT
    assert btf.type_name(btf.strip(u16)) == "unsigned short"
    enum = btf.find("xdp_action___x", BtfKind.ENUM)
    assert enum is not None
    assert btf.describe(enum) == "enum xdp_action___x {\n\tXDP_PASS___x = 99,\n};"


def test_member_offset_errors(core_task: Obj) -> None:
    btf = core_task.btf
    ts = btf.find("task_struct") or 0
    with pytest.raises(InputError, match="no member 'nope'"):
        btf.member_offset(ts, "nope")
    with pytest.raises(InputError, match="not an array"):
        btf.member_offset(ts, "pid[1]")
    with pytest.raises(InputError, match="bad member path"):
        btf.member_offset(ts, "pid..x")


@pytest.mark.parametrize(
    ("name", "essential"),
    [
        ("task_struct___old", "task_struct"),
        ("task_struct", "task_struct"),
        ("a___b___c", "a___b"),
        ("x____y", "x____y"),  # four underscores: no separator
        ("___x", "___x"),
        ("abc___", "abc___"),
        ("s___2", "s"),
    ],
)
def test_essential_name(name: str, essential: str) -> None:
    assert essential_name(name) == essential


def test_c_declarators() -> None:
    from bpfvm.btf import BtfArray, BtfInt, BtfParam, BtfType, encode_btf

    types = [
        BtfType(1, BtfKind.INT, "int", size=4, int_data=BtfInt(IntEncoding.SIGNED, 0, 32)),
        BtfType(2, BtfKind.PTR, ref=1),
        BtfType(3, BtfKind.ARRAY, array_data=BtfArray(2, 1, 4)),  # int *[4]
        BtfType(4, BtfKind.PTR, ref=5),
        BtfType(5, BtfKind.ARRAY, array_data=BtfArray(1, 1, 3)),  # int (*)[3]
        BtfType(6, BtfKind.CONST, ref=2),  # int *const
        BtfType(7, BtfKind.FUNC_PROTO, ref=1, params=(BtfParam("a", 2), BtfParam("", 0))),
        BtfType(8, BtfKind.PTR, ref=7),
        BtfType(9, BtfKind.CONST, ref=1),
        BtfType(10, BtfKind.PTR, ref=9),
        BtfType(11, BtfKind.PTR, ref=0),
    ]
    btf = Btf.parse(encode_btf(types))
    assert btf.type_name(3) == "int *[4]"
    assert btf.type_name(4) == "int (*)[3]"
    assert btf.type_name(6) == "int *const"
    assert btf.type_name(8) == "int (*)(int *a, ...)"
    assert btf.type_name(10) == "const int *"
    assert btf.type_name(11) == "void *"
