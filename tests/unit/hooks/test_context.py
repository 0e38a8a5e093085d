"""Packet contexts of BPF_PROG_TEST_RUN: layouts, refusals with the kernel's errno, results."""

from __future__ import annotations

import errno
import struct

import pytest

from bpfvm.asm import assemble
from bpfvm.hooks import LOOPBACK, NetDevice, TestRunError, build_packet_context
from bpfvm.hooks.packet_ctx import ENOTSUPP
from bpfvm.hooks.skb import eth_type_trans
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.packet import SkbPacket, XdpPacket
from bpfvm.vm.interp import Interpreter

ETH0 = NetDevice(4, "eth0", mac=bytes.fromhex("02fc00000001"), rx_queues=2)
IPV4 = bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])


def frame(proto: int = 0x0806, body: bytes = bytes(30), dest: bytes = bytes(6)) -> bytes:
    return dest + bytes(6) + proto.to_bytes(2, "big") + body


def xdp_md(data: int = 0, end: int = 64, meta: int = 0, ing: int = 0, q: int = 0) -> bytes:
    return struct.pack("<6I", data, end, meta, ing, q, 0)


def errno_of(*args: object, **kwargs: object) -> int:
    with pytest.raises(TestRunError) as info:
        build_packet_context(*args, **kwargs)  # type: ignore[arg-type]
    return info.value.errno


def run(src: str, prog_type: ProgType, data: bytes, ctx: bytes | None = None) -> tuple:
    with build_packet_context(prog_type, data, ctx) as pc:
        vm = Interpreter(assemble(src))
        vm.call.packet = pc.packet_state
        result = vm.run(pc.args, pc.regions, packet=pc.packet)
        return result.retval, *pc.finish()


# --- XDP ---------------------------------------------------------------------------------------


def test_xdp_context() -> None:
    with build_packet_context(ProgType.XDP, bytes(64)) as pc:
        assert isinstance(pc.packet_state, XdpPacket)
        assert pc.packet is None  # no LD_ABS for XDP
        assert pc.args == (pc.packet_state.ctx.addr,)
        assert pc.regions == [pc.packet_state.ctx, pc.packet_state.window]
        assert pc.ctx_out() is None
        assert pc.finish() == (bytes(64), b"")


@pytest.mark.parametrize(
    ("size", "ctx", "expected"),
    [
        (13, None, errno.EINVAL),
        (64, xdp_md(meta=1), errno.EINVAL),
        (64, xdp_md(end=65), errno.EINVAL),
        (64, xdp_md(data=8, end=4), errno.EINVAL),
        (64, xdp_md(data=3), errno.EINVAL),
        (300, xdp_md(data=220, end=300), errno.EINVAL),
        (20, xdp_md(data=8, end=20), errno.EINVAL),  # 12 bytes of packet after the metadata
        (64, xdp_md(q=1), errno.EINVAL),
        (64, xdp_md(ing=1, q=1), errno.EINVAL),
        (64, xdp_md(ing=9), errno.ENODEV),
        (64, struct.pack("<6I", 0, 64, 0, 0, 0, 1), errno.EINVAL),
        (64, xdp_md() + b"\x01", errno.E2BIG),
        (3520 + 17 * 4096 + 1, None, errno.ENOMEM),
    ],
)
def test_xdp_refusals(size: int, ctx: bytes | None, expected: int) -> None:
    assert errno_of(ProgType.XDP, bytes(size), ctx) == expected


def test_xdp_metadata_frags_and_ctx_out() -> None:
    data = b"META" + bytes(range(100))
    md = xdp_md(data=4, end=50, ing=4)
    with build_packet_context(ProgType.XDP, data, md, devices=(ETH0,)) as pc:
        xdp = pc.packet_state
        assert isinstance(xdp, XdpPacket)
        assert xdp.metalen == 4 and xdp.data_end - xdp.data == 46
        assert xdp.frags == [bytearray(data[50:])]
        assert struct.unpack_from("<2I", xdp.ctx.read(), 12) == (4, 0)
        assert pc.data_out() == data
        assert pc.ctx_out() == xdp_md(data=4, end=50, ing=4)


def test_xdp_ctx_out_alone_empties_the_linear_part() -> None:
    with build_packet_context(ProgType.XDP, bytes(64), None, ctx_out=True) as pc:
        assert pc.packet_state.buff_len == 64
        assert pc.packet_state.window.size == 0
        assert pc.ctx_out() == xdp_md(end=0)


def test_xdp_program_moves_the_head() -> None:
    src = """r6 = r1
r2 = -14
call bpf_xdp_adjust_head
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto +2
*(u8 *)(r2 + 0) = 0xee
r0 = 2
exit"""
    retval, data_out, _ = run(src, ProgType.XDP, bytes(range(20)))
    assert retval == 2 and data_out == b"\xee" + bytes(13) + bytes(range(20))


# --- socket buffers ------------------------------------------------------------------------------


def skb_ctx(**fields: int) -> bytes:
    offsets = {"mark": 8, "priority": 32, "ifindex": 40, "cb0": 48, "wire_len": 160,
               "gso_segs": 164, "gso_size": 176, "bad": 4}  # fmt: skip
    ctx = bytearray(192)
    for name, value in fields.items():
        struct.pack_into("<I", ctx, offsets[name], value)
    return bytes(ctx)


@pytest.mark.parametrize(
    ("data", "ctx", "expected"),
    [
        (bytes(13), None, errno.EINVAL),
        (bytes(3713), None, errno.EINVAL),
        (frame(0x0800, bytes(19)), None, errno.EINVAL),
        (frame(0x86DD, bytes(39)), None, errno.EINVAL),
        (frame(), skb_ctx(bad=1), errno.EINVAL),
        (frame(), skb_ctx(wire_len=43), errno.EINVAL),
        (frame(), skb_ctx(wire_len=65537), errno.EINVAL),
        (frame(), skb_ctx(gso_segs=65536), errno.EINVAL),
        (frame(), skb_ctx(ifindex=7), errno.ENODEV),
        (frame(), skb_ctx(ifindex=7, bad=1), errno.ENODEV),
        (frame(), skb_ctx() + b"\x01", errno.E2BIG),
    ],
)
def test_skb_refusals(data: bytes, ctx: bytes | None, expected: int) -> None:
    assert errno_of(ProgType.SCHED_CLS, data, ctx) == expected


def test_unsupported_program_type() -> None:
    assert errno_of(ProgType.KPROBE, bytes(64)) == ENOTSUPP


def test_eth_type_trans() -> None:
    assert eth_type_trans(frame(0x0800), LOOPBACK) == (0x0800, 0)
    assert eth_type_trans(frame(dest=b"\xff" * 6), LOOPBACK) == (0x0806, 2)
    assert eth_type_trans(frame(dest=b"\xff" * 6), ETH0) == (0x0806, 1)
    assert eth_type_trans(frame(dest=b"\x02" + bytes(5)), LOOPBACK) == (0x0806, 3)
    assert eth_type_trans(frame(0x05DC, b"\xff\xff"), LOOPBACK) == (0x0001, 0)
    assert eth_type_trans(frame(0x05DC, b"\xff"), LOOPBACK) == (0x0004, 0)


def test_skb_context_fields() -> None:
    data = frame(0x0800, IPV4 + bytes(10))
    with build_packet_context(ProgType.CGROUP_SKB, data, skb_ctx(mark=5, gso_size=0x10005)) as pc:
        skb = pc.packet_state
        assert isinstance(skb, SkbPacket)
        assert pc.packet is skb.window and skb.window.size == len(data) - 14
        len_, pkt_type, mark = struct.unpack_from("<3I", skb.ctx.read(), 0)
        assert (len_, pkt_type, mark) == (30, 0, 5)
        fields = skb.ctx.read()
        assert fields[16:18] == b"\x08\x00"  # protocol, network order
        assert struct.unpack_from("<I", fields, 40)[0] == 1  # loopback
        assert struct.unpack_from("<I", fields, 88)[0] == 2  # AF_INET
        assert fields[92:96] == bytes([10, 0, 0, 2]) and fields[96:100] == bytes([10, 0, 0, 1])
        assert struct.unpack_from("<I", fields, 160)[0] == 30  # wire_len: the skb length
        assert struct.unpack_from("<I", fields, 176)[0] == 5  # gso_size is a u16
        out = pc.ctx_out()
        assert out is not None and out[176:180] == struct.pack("<I", 0x10005)
        assert pc.data_out() == bytes(14) + data[14:]


def test_skb_without_ctx_has_no_wire_len() -> None:
    src = "r0 = *(u32 *)(r1 + 160)\nexit"
    assert run(src, ProgType.SCHED_CLS, frame())[0] == 0
    assert run(src, ProgType.SCHED_CLS, frame(), bytes(192))[0] == 44


def test_tc_program_grows_the_head() -> None:
    src = """r6 = r1
r2 = 4
r3 = 0
call bpf_skb_change_head
r2 = *(u32 *)(r6 + 76)
r3 = *(u32 *)(r6 + 80)
r4 = r2
r4 += 4
if r4 > r3 goto +2
*(u32 *)(r2 + 0) = 0x04030201
r0 = *(u32 *)(r6 + 0)
exit"""
    retval, data_out, ctx_out = run(src, ProgType.SCHED_CLS, frame(), bytes(192))
    assert retval == 48 and data_out == bytes([1, 2, 3, 4]) + frame()
    assert struct.unpack_from("<I", ctx_out, 160)[0] == 44  # wire_len stays
