"""The packet helpers called directly on XDP and socket buffer states."""

from __future__ import annotations

import errno
import struct

import pytest

from bpfvm.errors import VmFault
from bpfvm.runtime.helpers import HelperCall
from bpfvm.runtime.helpers.packet import PACKET_HELPERS
from bpfvm.runtime.memory import AddressSpace, Region
from bpfvm.runtime.packet import (
    SKB_DATA,
    SKB_HASH,
    SKB_LEN,
    XDP_MD_DATA,
    SkbPacket,
    XdpPacket,
)

M64 = (1 << 64) - 1


class Run:
    """A helper call context with the packet's regions and a 64-byte stack mapped."""

    def __init__(self, state: XdpPacket | SkbPacket | None) -> None:
        mem = AddressSpace()
        self.stack = mem.map(Region("stack", 64))
        if state is not None:
            mem.map(state.ctx)
            mem.map(state.window)
        self.hc = HelperCall(mem, packet=state)

    def __call__(self, helper: str, *args: int) -> int:
        regs = [a & M64 for a in args] + [0] * (5 - len(args))
        return PACKET_HELPERS[helper](self.hc, *regs)


def call(helper: str, state: XdpPacket | SkbPacket | None, *args: int) -> tuple[int, Run]:
    run = Run(state)
    return run(helper, *args), run


@pytest.fixture
def xdp() -> XdpPacket:
    return XdpPacket(bytes(range(64)), 0, [], 1, 0)


@pytest.fixture
def skb() -> SkbPacket:
    return SkbPacket(bytes(range(60)), l2=True)


def test_xdp_adjust_head_limits(xdp: XdpPacket) -> None:
    ctx = xdp.ctx.addr
    assert call("bpf_xdp_adjust_head", xdp, ctx, -217)[0] == -errno.EINVAL
    assert call("bpf_xdp_adjust_head", xdp, ctx, 51)[0] == -errno.EINVAL
    assert call("bpf_xdp_adjust_head", xdp, ctx, -216)[0] == 0
    assert xdp.data_out()[216:] == bytes(range(64))
    data = struct.unpack_from("<I", xdp.ctx.read(), XDP_MD_DATA)[0]
    assert data == xdp.buffer.addr + 40 and xdp.window.size == 280


def test_xdp_adjust_meta_and_tail(xdp: XdpPacket) -> None:
    ctx = xdp.ctx.addr
    assert call("bpf_xdp_adjust_meta", xdp, ctx, -3)[0] == -errno.EACCES
    assert call("bpf_xdp_adjust_meta", xdp, ctx, 4)[0] == -errno.EINVAL
    assert call("bpf_xdp_adjust_meta", xdp, ctx, -8)[0] == 0 and xdp.metalen == 8
    assert call("bpf_xdp_adjust_head", xdp, ctx, 10)[0] == 0  # the metadata moves along
    assert xdp.metalen == 8
    assert call("bpf_xdp_adjust_tail", xdp, ctx, 3457)[0] == -errno.EINVAL
    assert call("bpf_xdp_adjust_tail", xdp, ctx, 3456)[0] == 0
    assert call("bpf_xdp_get_buff_len", xdp, ctx)[0] == 64 - 10 + 3456


def test_xdp_bytes_across_fragments() -> None:
    xdp = XdpPacket(bytes(20), 0, [b"abcd", b"efgh"], 1, 0)
    run, ctx = Run(xdp), xdp.ctx.addr
    assert run("bpf_xdp_load_bytes", ctx, 18, run.stack.addr, 6) == 0
    assert run.stack.read(0, 6) == b"\0\0abcd"
    run.stack.write(0, b"XYZ")
    assert run("bpf_xdp_store_bytes", ctx, 23, run.stack.addr, 3) == 0
    assert xdp.data_out() == bytes(20) + b"abcXYZgh"
    assert run("bpf_xdp_load_bytes", ctx, 27, run.stack.addr, 2) == -errno.EINVAL
    assert run("bpf_xdp_load_bytes", ctx, 0x10000, run.stack.addr, 2) == -errno.EFAULT
    # shrinking past the fragments trims the linear part
    assert run("bpf_xdp_adjust_tail", ctx, -10) == 0
    assert xdp.frags == [] and xdp.buff_len == 18


def test_skb_store_and_load(skb: SkbPacket) -> None:
    run, ctx = Run(skb), skb.ctx.addr
    stack = run.stack
    assert run("bpf_skb_pull_data", ctx, 0) == 0
    stack.write(0, b"\xaa" * 8)
    assert run("bpf_skb_store_bytes", ctx, 52, stack.addr, 8, 0) == 0
    assert run("bpf_skb_store_bytes", ctx, 53, stack.addr, 8, 0) == -errno.EFAULT
    assert run("bpf_skb_store_bytes", ctx, 0, stack.addr, 8, 4) == -errno.EINVAL
    assert skb.data_out()[52:] == b"\xaa" * 8
    assert run("bpf_skb_load_bytes", ctx, 57, stack.addr, 4) == -errno.EFAULT
    assert stack.read(0, 4) == bytes(4)  # cleared on failure
    assert run("bpf_skb_load_bytes", ctx, 12, stack.addr, 2) == 0
    assert stack.read(0, 2) == bytes([12, 13])
    assert run("bpf_skb_load_bytes_relative", ctx, 0, stack.addr, 2, 1) == 0  # network header
    assert stack.read(0, 2) == bytes([14, 15])
    assert run("bpf_skb_load_bytes_relative", ctx, 0, stack.addr, 2, 2) == -errno.EFAULT


def test_skb_change_head_and_tail(skb: SkbPacket) -> None:
    ctx = skb.ctx.addr
    assert call("bpf_skb_change_head", skb, ctx, 16064 - 59)[0] == -errno.EINVAL
    assert call("bpf_skb_change_head", skb, ctx, 100, 1)[0] == -errno.EINVAL
    assert call("bpf_skb_change_head", skb, ctx, 500)[0] == 0  # past the 64-byte headroom
    assert skb.len == 560 and skb.data_out()[:500] == bytes(500)
    fields = skb.ctx.read()
    assert struct.unpack_from("<I", fields, SKB_LEN)[0] == 560
    assert struct.unpack_from("<I", fields, SKB_DATA)[0] == skb.buffer.addr + skb.data
    assert call("bpf_skb_change_tail", skb, ctx, 513)[0] == -errno.EINVAL  # < network offset
    assert call("bpf_skb_change_tail", skb, ctx, 600)[0] == 0
    assert skb.data_out()[560:] == bytes(40)
    assert call("bpf_skb_pull_data", skb, ctx, 601)[0] == -errno.ENOMEM


def test_hash_helpers(skb: SkbPacket) -> None:
    ctx = skb.ctx.addr
    assert call("bpf_set_hash", skb, ctx, 0xABCD)[0] == 0
    assert call("bpf_get_hash_recalc", skb, ctx)[0] == 0xABCD
    assert struct.unpack_from("<I", skb.ctx.read(), SKB_HASH)[0] == 0xABCD
    assert call("bpf_set_hash_invalid", skb, ctx)[0] == 0
    assert skb.hash == 0
    assert call("bpf_get_hash_recalc", skb, ctx)[0] != 0  # a stand-in, never zero


def test_redirect_depends_on_the_hook(xdp: XdpPacket, skb: SkbPacket) -> None:
    assert call("bpf_redirect", xdp, 5, 0)[0] == 4 and xdp.redirect is not None
    assert call("bpf_redirect", xdp, 5, 1)[0] == 0
    assert call("bpf_redirect", skb, 5, 1)[0] == 7 and skb.redirect is not None
    assert skb.redirect.flags == 1
    assert call("bpf_redirect", skb, 5, 2)[0] == 2


def test_wrong_context_faults(xdp: XdpPacket, skb: SkbPacket) -> None:
    with pytest.raises(VmFault, match="socket buffer"):
        call("bpf_skb_load_bytes", xdp, xdp.ctx.addr, 0, 0, 1)
    with pytest.raises(VmFault, match="not the XDP context"):
        call("bpf_xdp_adjust_head", xdp, xdp.ctx.addr + 8, 0)
    with pytest.raises(VmFault, match="packet context"):
        call("bpf_redirect", None, 1, 0)


def test_l4_csum_mangled_zero(skb: SkbPacket) -> None:
    ctx = skb.ctx.addr
    skb.write(20, b"\0\0")
    assert call("bpf_l4_csum_replace", skb, ctx, 20, 0, 0x1234, 0x22)[0] == 0
    assert skb.read(20, 2) == b"\0\0"  # zero means "no checksum": left alone
    assert call("bpf_l4_csum_replace", skb, ctx, 20, 0, 0x1234, 0x62)[0] == 0
    assert skb.read(20, 2) == struct.pack("<H", ~0x1234 & 0xFFFF)
    assert call("bpf_l4_csum_replace", skb, ctx, 21, 0, 1, 2)[0] == -errno.EFAULT
    assert call("bpf_l3_csum_replace", skb, ctx, 20, 1, 1, 0)[0] == -errno.EINVAL
    assert call("bpf_l3_csum_replace", skb, ctx, 20, 0, 1, 0x10)[0] == -errno.EINVAL
