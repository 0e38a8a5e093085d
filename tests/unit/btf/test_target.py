"""The target BTF: the kernel's when readable, else the bundled one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.btf import Btf, BtfKind, bundled_btf, load_target_btf
from bpfvm.btf import target as target_mod
from bpfvm.errors import InputError

from .test_parse import check_uapi_layouts

ROOTS = ["__sk_buff", "xdp_md", "sk_buff", "xdp_buff", "task_struct", "ethhdr", "iphdr",
         "ipv6hdr", "tcphdr", "udphdr", "bpf_raw_tracepoint_args", "pt_regs"]  # fmt: skip


def test_bundled_holds_the_context_and_core_types(bundled: Btf) -> None:
    for name in ROOTS:
        assert bundled.find(name, BtfKind.STRUCT) is not None, name
    check_uapi_layouts(bundled)
    ts = bundled.find("task_struct", BtfKind.STRUCT)
    assert ts is not None
    names = {m.name for m in bundled[ts].members}
    assert {"pid", "tgid", "comm", "real_parent", "__state", "flags"} <= names
    assert bundled.type_name(bundled.find_member(ts, "real_parent")[0].type) == (  # type: ignore[index]
        "struct task_struct *"
    )
    skb = bundled.find("sk_buff", BtfKind.STRUCT)
    assert skb is not None and bundled.member_offset(skb, "dev") == 16 * 8
    fwd = bundled.find("net_device")
    assert fwd is not None and bundled.kind(fwd) == BtfKind.FWD  # pointed to, not copied
    assert bundled.find("xdp_action", BtfKind.ENUM) is not None
    assert len(bundled) < 400


def test_bundled_agrees_with_this_kernel(bundled: Btf, vmlinux: Btf) -> None:
    """On the kernel it was generated from, every kept member is where vmlinux has it."""
    ts = vmlinux.find("task_struct", BtfKind.STRUCT) or 0
    if vmlinux.resolve_size(ts) != bundled.resolve_size(bundled.find("task_struct") or 0):
        pytest.skip("bundled BTF comes from another kernel build")
    for name in ROOTS:
        old, new = vmlinux.find(name, BtfKind.STRUCT), bundled.find(name, BtfKind.STRUCT)
        assert old is not None and new is not None
        assert vmlinux.resolve_size(old) == bundled.resolve_size(new)
        for m in bundled[new].members:
            if m.name:
                assert vmlinux.member_offset(old, m.name) == bundled.member_offset(new, m.name)


def test_load_target_btf(vmlinux: Btf, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert len(load_target_btf()) == len(vmlinux)
    monkeypatch.setattr(target_mod, "VMLINUX_BTF", tmp_path / "missing")
    assert len(load_target_btf()) == len(bundled_btf())
    with pytest.raises(InputError, match="cannot read target BTF"):
        load_target_btf(str(tmp_path / "nope"))
    (tmp_path / "bad").write_bytes(b"junk")
    with pytest.raises(InputError, match="BTF: hdr_len not found"):
        load_target_btf(str(tmp_path / "bad"))
