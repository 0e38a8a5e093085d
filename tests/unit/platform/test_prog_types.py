"""Program type facts: return ranges, attach types, LD_ABS, packet access, sleepable."""

from __future__ import annotations

import pytest

from bpfvm.platform import PROG_TYPES, PacketAccess
from bpfvm.platform.ctx_layouts import CTX_LAYOUTS
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt


def test_return_ranges() -> None:
    assert PROG_TYPES[Pt.CGROUP_SKB].return_range() == (0, 1)
    assert PROG_TYPES[Pt.CGROUP_SKB].return_range(At.CGROUP_INET_EGRESS) == (0, 3)
    assert PROG_TYPES[Pt.SOCKET_FILTER].return_range() is None
    assert PROG_TYPES[Pt.XDP].return_range() is None
    assert PROG_TYPES[Pt.KPROBE].return_range() is None
    assert PROG_TYPES[Pt.KPROBE].return_range(At.TRACE_KPROBE_SESSION) == (0, 1)
    assert PROG_TYPES[Pt.TRACING].return_range(At.TRACE_FENTRY) == (0, 0)
    assert PROG_TYPES[Pt.TRACING].return_range(At.MODIFY_RETURN) is None
    assert PROG_TYPES[Pt.TRACING].return_range(At.TRACE_ITER) == (0, 1)
    sock_addr = PROG_TYPES[Pt.CGROUP_SOCK_ADDR]
    assert sock_addr.return_range(At.CGROUP_UDP4_RECVMSG) == (1, 1)
    assert sock_addr.return_range(At.CGROUP_INET4_BIND) == (0, 3)
    assert sock_addr.return_range(At.CGROUP_INET4_CONNECT) == (0, 1)


def test_attach_types() -> None:
    cg = PROG_TYPES[Pt.CGROUP_SKB]
    assert cg.accepts_attach_type(At.CGROUP_INET_EGRESS) and cg.accepts_attach_type(0)
    assert not cg.accepts_attach_type(At.CGROUP_SOCK_OPS)
    assert PROG_TYPES[Pt.XDP].accepts_attach_type(At.XDP_DEVMAP)
    assert not PROG_TYPES[Pt.SYSCALL].accepts_attach_type(1)
    reuseport = PROG_TYPES[Pt.SK_REUSEPORT]
    assert reuseport.attach_type(0) == At.SK_REUSEPORT_SELECT  # the load-time fixup
    assert reuseport.accepts_attach_type(0)


def test_ld_abs_packet_access_sleepable() -> None:
    assert {pt for pt, s in PROG_TYPES.items() if s.ld_abs} == {
        Pt.SOCKET_FILTER,
        Pt.SCHED_CLS,
        Pt.SCHED_ACT,
    }
    assert PROG_TYPES[Pt.XDP].packet is PacketAccess.READ_WRITE
    assert PROG_TYPES[Pt.CGROUP_SKB].packet is PacketAccess.READ
    assert PROG_TYPES[Pt.SOCKET_FILTER].packet is PacketAccess.NONE
    assert PROG_TYPES[Pt.TRACING].can_be_sleepable(At.TRACE_ITER)
    assert not PROG_TYPES[Pt.TRACING].can_be_sleepable(At.TRACE_RAW_TP)
    assert PROG_TYPES[Pt.KPROBE].can_be_sleepable()
    assert not PROG_TYPES[Pt.XDP].can_be_sleepable()


@pytest.mark.parametrize("pt", list(PROG_TYPES))
def test_ctx_size_matches_layout(pt: Pt) -> None:
    spec = PROG_TYPES[pt]
    layout = CTX_LAYOUTS.get(spec.ctx)
    if layout is not None and layout.size:
        assert layout.size == spec.ctx_size
