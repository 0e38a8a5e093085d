"""Packet memory: low mappings, the packet window, XDP and socket buffer layouts, checksums."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfvm.runtime.helpers.packet import (
    csum_from32to16,
    csum_partial,
    csum_replace2,
    csum_replace4,
    csum_replace_by_diff,
    csum_sub,
)
from bpfvm.runtime.memory import AddressSpace
from bpfvm.runtime.packet import (
    ETH_HLEN,
    NET_SKB_PAD,
    PAGE_SIZE,
    SKB_CTX_SIZE,
    SKB_DATA,
    SKB_DATA_END,
    SKB_LEN,
    SKB_MARK,
    XDP_MD_DATA,
    XDP_MD_DATA_END,
    XDP_MD_DATA_META,
    XDP_PACKET_HEADROOM,
    PacketBuffer,
    PacketWindow,
    SkbPacket,
    XdpPacket,
)


def u32_at(region_read: bytes, off: int) -> int:
    value: int = struct.unpack_from("<I", region_read, off)[0]
    return value


def test_packet_buffer_is_32bit_addressable() -> None:
    buf = PacketBuffer(10)
    assert buf.size == PAGE_SIZE
    assert buf.addr + buf.size <= 1 << 32
    buf.write(10, b"abcdef")
    buf.move(0, 10, 6)
    buf.zero(12, 2)
    assert buf.read(0, 6) == b"abcdef"
    assert buf.read(10, 6) == b"ab\0\0ef"
    with pytest.raises(IndexError):
        buf.write(PAGE_SIZE - 1, b"xy")
    buf.close()


def test_window_follows_the_packet() -> None:
    buf = PacketBuffer(PAGE_SIZE)
    buf.write(100, b"\x11\x22\x33\x44")
    window = PacketWindow("packet", 0, True, owner=buf)
    window.retarget(buf, 100, 4)
    space = AddressSpace()
    space.map(window)
    assert space.load(buf.addr + 100, 4, 0) == 0x44332211
    space.store(buf.addr + 102, 2, 0xBEEF, 0)
    assert buf.read(102, 2) == b"\xef\xbe"
    window.retarget(buf, 200, 0)
    assert space.find(buf.addr + 100, 1) is None
    buf.close()


def test_xdp_layout_and_results() -> None:
    xdp = XdpPacket(b"MMMM" + bytes(range(60)), 4, [b"frag1", b"f2"], 1, 0)
    ctx = xdp.ctx.read()
    base = xdp.buffer.addr
    assert u32_at(ctx, XDP_MD_DATA) == base + XDP_PACKET_HEADROOM
    assert u32_at(ctx, XDP_MD_DATA_META) == base + XDP_PACKET_HEADROOM - 4
    assert u32_at(ctx, XDP_MD_DATA_END) == base + XDP_PACKET_HEADROOM + 60
    assert xdp.window.addr == base + XDP_PACKET_HEADROOM - 4 and xdp.window.size == 64
    assert xdp.buff_len == 60 + 7
    assert xdp.read(58, 5) == bytes([58, 59]) + b"fra"
    xdp.write(59, b"XYZWVU")  # across the linear part and both fragments
    assert xdp.read(59, 6) == b"XYZWVU"
    assert xdp.frags == [bytearray(b"YZWVU"), bytearray(b"f2")]
    assert xdp.data_out() == b"MMMM" + bytes(range(59)) + b"XYZWVUf2"
    assert xdp.ctx_out(struct.pack("<6I", 4, 64, 0, 1, 0, 0)) == struct.pack(
        "<6I", 4, 64, 0, 1, 0, 0
    )
    xdp.close()


def test_skb_layouts() -> None:
    frame = bytes(range(40))
    l2 = SkbPacket(frame, l2=True)
    l3 = SkbPacket(frame, l2=False)
    assert l2.len == 40 and l3.len == 40 - ETH_HLEN
    assert l2.data == NET_SKB_PAD and l3.data == NET_SKB_PAD + ETH_HLEN
    assert l2.data_out() == frame
    assert l3.data_out() == bytes(ETH_HLEN) + frame[ETH_HLEN:]
    ctx = l3.ctx.read()
    assert u32_at(ctx, SKB_LEN) == 26
    assert u32_at(ctx, SKB_DATA) == l3.buffer.addr + l3.data
    assert u32_at(ctx, SKB_DATA_END) == l3.buffer.addr + l3.tail
    l2.close()
    l3.close()


def test_skb_grows_at_both_ends() -> None:
    skb = SkbPacket(bytes(range(1, 61)), l2=True)
    skb.push(200)  # more than the headroom: the buffer is reallocated
    skb.set_len(20000)  # more than the tailroom
    skb.sync()
    assert skb.len == 20000
    body = skb.read(0, skb.len)
    assert body[:200] == bytes(200) and body[200:260] == bytes(range(1, 61))
    assert body[260:] == bytes(20000 - 260)
    assert skb.window.addr == skb.buffer.addr + skb.data and skb.window.size == 20000
    assert skb.buffer.addr + skb.buffer.size <= 1 << 32
    skb.set_len(10)
    assert skb.data_out() == bytes(10)
    skb.close()


def test_skb_ctx_out_overlays_the_copied_fields() -> None:
    skb = SkbPacket(bytes(60), l2=True)
    skb.ctx.write(SKB_MARK, struct.pack("<I", 0x1234))
    skb.ctx.write(SKB_LEN, struct.pack("<I", 99))  # not a copied-back field
    ctx_in = bytes(SKB_CTX_SIZE)
    out = skb.ctx_out(ctx_in)
    assert u32_at(out, SKB_MARK) == 0x1234 and u32_at(out, SKB_LEN) == 0
    skb.close()


# --- checksum arithmetic ------------------------------------------------------------------------


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 checksum of ``data`` as a little-endian load of the field would see it."""
    total = sum(w for (w,) in struct.iter_unpack(">H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int.from_bytes((~total & 0xFFFF).to_bytes(2, "big"), "little")


@given(st.binary(min_size=20, max_size=20), st.integers(0, 4), st.binary(min_size=4, max_size=4))
def test_csum_replace_keeps_the_checksum_valid(header: bytes, word: int, new: bytes) -> None:
    hdr = bytearray(header)
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("<H", internet_checksum(bytes(hdr)))
    off = 12 + 4 * (word % 2)  # a 4-byte field after the checksum
    old4 = struct.unpack_from("<I", hdr, off)[0]
    old2 = struct.unpack_from("<H", hdr, off)[0]
    check = struct.unpack_from("<H", hdr, 10)[0]
    new4, new2 = struct.unpack("<I", new)[0], struct.unpack("<H", new[:2])[0]

    four = bytearray(hdr)
    four[off : off + 4] = new
    two = bytearray(hdr)
    two[off : off + 2] = new[:2]
    diff = csum_sub(csum_partial(new, 0), csum_partial(bytes(hdr[off : off + 4]), 0))
    for replaced, expect in (
        (csum_replace4(check, old4, new4), four),
        (csum_replace2(check, old2, new2), two),
        (csum_replace_by_diff(check, diff), four),
    ):
        expect[10:12] = b"\0\0"
        # Equal as ones'-complement values (0x0000 and 0xffff both mean zero).
        assert replaced % 0xFFFF == internet_checksum(bytes(expect)) % 0xFFFF


def test_csum_diff_arithmetic_matches_the_kernel() -> None:
    # Values observed from Linux 6.18's bpf_csum_diff on x86-64.
    assert csum_from32to16(0x12345678) == 0x68AC
    assert csum_from32to16(csum_partial(b"\x01\x02\x03", 0)) == 0x0204
    assert csum_from32to16(csum_partial(b"\x01\x02\x03\x04\x05\x06", 0)) == 0x0C09
    assert csum_partial(b"\xff" * 4, 0) == 0xFFFFFFFF
    assert csum_partial(bytes(8), 0) == 0
    assert csum_partial(b"\xff" * 4, 0xFFFFFFFF) == 0xFFFFFFFF
