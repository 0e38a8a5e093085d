"""Context layouts and ``check_ctx_access``."""

from __future__ import annotations

import pytest

from bpfvm.platform import ProgEnv, check_ctx_access
from bpfvm.platform.arg_types import (
    PTR_TO_FLOW_KEYS,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON_OR_NULL,
    SCALAR_VALUE,
)
from bpfvm.platform.ctx_layouts import PT_REGS, SK_BUFF, XDP_MD
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt


def test_sk_buff_layout() -> None:
    expected = {"len": 0, "mark": 8, "cb[0]": 48, "hash": 68, "tc_classid": 72, "data": 76,
                "data_end": 80, "family": 88, "remote_ip6[0]": 100, "local_port": 136,
                "data_meta": 140, "flow_keys": 144, "tstamp": 152, "wire_len": 160,
                "gso_segs": 164, "sk": 168, "gso_size": 176, "tstamp_type": 180,
                "hwtstamp": 184}  # fmt: skip
    assert {k: SK_BUFF.offsetof(k) for k in expected} == expected
    assert SK_BUFF.size == 192
    assert SK_BUFF.field_at(181) is None and SK_BUFF.field_at(50) == SK_BUFF.field("cb")
    assert XDP_MD.offsetof("egress_ifindex") == 20 and XDP_MD.size == 24
    assert PT_REGS.offsetof("ip") == 128 and PT_REGS.size == 168
    with pytest.raises(KeyError):
        SK_BUFF.field("nope")


def _reg(pt: Pt, off: int, size: int, env: ProgEnv | None = None) -> object:
    access = check_ctx_access(pt, off, size, False, env)
    return access.reg_type if access else None


def test_pointer_fields() -> None:
    assert _reg(Pt.SCHED_CLS, 76, 4) == PTR_TO_PACKET
    assert _reg(Pt.SCHED_CLS, 80, 4) == PTR_TO_PACKET_END
    assert _reg(Pt.SCHED_CLS, 140, 4) == PTR_TO_PACKET_META
    assert _reg(Pt.SCHED_CLS, 168, 8) == PTR_TO_SOCK_COMMON_OR_NULL
    assert _reg(Pt.CGROUP_SKB, 140, 4) is None  # no data_meta for cgroup_skb
    assert _reg(Pt.SOCKET_FILTER, 76, 4) is None  # no direct packet access
    assert _reg(Pt.SOCKET_FILTER, 0, 4) == SCALAR_VALUE
    assert _reg(Pt.FLOW_DISSECTOR, 144, 8) == PTR_TO_FLOW_KEYS
    assert _reg(Pt.XDP, 0, 4) == PTR_TO_PACKET and _reg(Pt.XDP, 8, 4) == PTR_TO_PACKET_META


def test_narrow_loads_and_sizes() -> None:
    narrow = check_ctx_access(Pt.SOCKET_FILTER, 1, 1, False)
    assert narrow is not None and narrow.narrow and narrow.field_size == 4
    assert check_ctx_access(Pt.SOCKET_FILTER, 0, 8, False) is None  # wider than the field
    assert check_ctx_access(Pt.SOCKET_FILTER, 2, 4, False) is None  # misaligned
    assert check_ctx_access(Pt.SCHED_CLS, 77, 1, False) is None  # no narrow data pointer
    assert check_ctx_access(Pt.SOCKET_FILTER, 48, 8, False) is not None  # cb[0..1]
    assert check_ctx_access(Pt.SOCKET_FILTER, 64, 8, False) is None  # past cb[4]
    assert check_ctx_access(Pt.XDP, 0, 2, False) is None
    assert check_ctx_access(Pt.KPROBE, 160, 8, False) is not None
    assert check_ctx_access(Pt.KPROBE, 168, 1, False) is None
    assert check_ctx_access(Pt.TRACEPOINT, 0, 8, False) is None  # the hidden pt_regs pointer
    assert check_ctx_access(Pt.PERF_EVENT, 168, 1, False) is not None  # sample_period
    assert check_ctx_access(Pt.PERF_EVENT, 0, 4, False) is None
    with pytest.raises(ValueError):
        check_ctx_access(Pt.XDP, 0, 3, False)


def test_stores() -> None:
    assert check_ctx_access(Pt.SOCKET_FILTER, 48, 1, True) is not None  # cb: any size
    assert check_ctx_access(Pt.SOCKET_FILTER, 8, 4, True) is None  # mark is read-only
    assert check_ctx_access(Pt.SCHED_CLS, 8, 4, True) is not None
    assert check_ctx_access(Pt.SCHED_CLS, 8, 2, True) is None
    assert check_ctx_access(Pt.SCHED_CLS, 152, 8, True) is not None  # tstamp
    assert check_ctx_access(Pt.CGROUP_SKB, 32, 4, True) is not None  # priority
    assert check_ctx_access(Pt.XDP, 16, 4, True) is None
    assert check_ctx_access(Pt.KPROBE, 0, 8, True) is None


def test_attach_type_dependent_fields() -> None:
    devmap = ProgEnv(expected_attach_type=At.XDP_DEVMAP)
    assert check_ctx_access(Pt.XDP, 20, 4, False) is None
    assert check_ctx_access(Pt.XDP, 20, 4, False, devmap) is not None
    post_bind4 = ProgEnv(expected_attach_type=At.CGROUP_INET4_POST_BIND)
    assert check_ctx_access(Pt.CGROUP_SOCK, 24, 4, False) is None  # src_ip4
    assert check_ctx_access(Pt.CGROUP_SOCK, 24, 4, False, post_bind4) is not None
    assert check_ctx_access(Pt.CGROUP_SOCK, 16, 4, True) is not None  # mark at sock_create
    assert check_ctx_access(Pt.CGROUP_SOCK, 16, 4, True, post_bind4) is None
