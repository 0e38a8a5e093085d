"""The socket buffer context of a test run, built as ``bpf_prog_test_run_skb`` builds it
(Linux 6.18).

* The input is an Ethernet frame of 14 to 3712 bytes (a page less headroom and
  ``skb_shared_info``). ``eth_type_trans`` on the device (loopback unless ``ctx_in`` names
  another ifindex) sets ``protocol`` and ``pkt_type``; an IPv4 or IPv6 frame must hold a whole
  fixed IP header, whose addresses become those of the dummy socket.
* tc (``SCHED_CLS``/``SCHED_ACT``) sees the frame from the MAC header; every other type sees
  it from the network header, and gets a zeroed Ethernet header back in ``data_out``.
* ``ctx_in`` (``struct __sk_buff``) may set only mark, priority, ingress_ifindex, ifindex, cb,
  tstamp, wire_len (0 or from the packet length to 64 KiB), gso_segs (at most 65535),
  gso_size and hwtstamp (``convert___skb_to_skb``); ``ctx_out`` returns those fields
  (``convert_skb_to___skb``, wire_len and gso_segs as the kernel holds them) and leaves the
  rest as passed in.
"""

from __future__ import annotations

import errno
import socket
import struct

from bpfvm.hooks.packet_ctx import (
    LOOPBACK,
    NetDevice,
    PacketContext,
    TestRunError,
    ctx_init,
    find_device,
)
from bpfvm.hooks.pool import PacketPool
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.ctx_runtime import RuntimeSkbPacket
from bpfvm.runtime.packet import (
    ETH_HLEN,
    NET_IP_ALIGN,
    NET_SKB_PAD,
    PAGE_SIZE,
    SKB_CB,
    SKB_CB_SIZE,
    SKB_CTX_SIZE,
    SKB_FAMILY,
    SKB_GSO_SEGS,
    SKB_GSO_SIZE,
    SKB_HWTSTAMP,
    SKB_IFINDEX,
    SKB_INGRESS_IFINDEX,
    SKB_LOCAL_IP4,
    SKB_LOCAL_IP6,
    SKB_MARK,
    SKB_PKT_TYPE,
    SKB_PRIORITY,
    SKB_PROTOCOL,
    SKB_REMOTE_IP4,
    SKB_REMOTE_IP6,
    SKB_SHINFO_SIZE,
    SKB_TSTAMP,
    SKB_WIRE_LEN,
    SkbPacket,
)

L2_PROG_TYPES = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT})
SKB_MAX_TEST_LEN = PAGE_SIZE - NET_SKB_PAD - NET_IP_ALIGN - SKB_SHINFO_SIZE  # 3712
GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 1, 2, 3
ETH_P_802_3, ETH_P_802_2, ETH_P_802_3_MIN = 0x0001, 0x0004, 0x0600
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
IPV4_HLEN, IPV6_HLEN = 20, 40

# __sk_buff byte ranges convert___skb_to_skb() requires to be zero.
_ZERO_RANGES = ((0, 8), (12, 32), (44, 48), (68, 152), (168, 176), (180, 184))
# __sk_buff fields taken over from ctx_in as they are: (offset, size).
_COPIED_FIELDS = ((SKB_MARK, 4), (SKB_PRIORITY, 4), (SKB_INGRESS_IFINDEX, 4),
                  (SKB_CB, SKB_CB_SIZE), (SKB_TSTAMP, 8), (SKB_HWTSTAMP, 8))  # fmt: skip


def build_skb_context(
    prog_type: ProgType,
    data_in: bytes,
    ctx_in: bytes | None = None,
    *,
    ctx_out: bool = False,
    devices: tuple[NetDevice, ...] = (LOOPBACK,),
    runtime_ctx: bool = False,
    pool: PacketPool | None = None,
) -> PacketContext:
    """The socket buffer and ``__sk_buff`` for ``data_in``; raises :class:`TestRunError`.

    ``runtime_ctx``: the context is bpfvm's ``bpfvm_sk_buff`` (for fixed-up programs);
    ``pool``: reuse a packet state of the same shape (closing the context gives it back)."""
    size = len(data_in)
    if size < ETH_HLEN or size > SKB_MAX_TEST_LEN:
        raise TestRunError(
            errno.EINVAL, f"{size} bytes of data (a socket buffer takes {ETH_HLEN} to "
            f"{SKB_MAX_TEST_LEN})"
        )  # fmt: skip
    ctx = ctx_init(ctx_in, SKB_CTX_SIZE, ctx_out)
    dev = LOOPBACK
    if ctx is not None and (ifindex := _field(ctx, SKB_IFINDEX)) > 1:
        dev = find_device(devices, ifindex)
    protocol, pkt_type = eth_type_trans(data_in, dev)
    family, local, remote = _socket_addresses(protocol, data_in[ETH_HLEN:])
    l2 = prog_type in L2_PROG_TYPES
    wire_len = _convert_ctx(ctx, size if l2 else size - ETH_HLEN)
    cls = RuntimeSkbPacket if runtime_ctx else SkbPacket
    packet = cls(data_in, l2) if pool is None else pool.new(cls, data_in, l2)
    region = packet.ctx
    region.write(SKB_PKT_TYPE, struct.pack("<I", pkt_type))
    region.write(SKB_PROTOCOL, protocol.to_bytes(2, "big"))
    region.write(SKB_IFINDEX, struct.pack("<I", dev.ifindex))
    region.write(SKB_FAMILY, struct.pack("<I", family))
    if family == socket.AF_INET:
        region.write(SKB_LOCAL_IP4, local)
        region.write(SKB_REMOTE_IP4, remote)
    elif family == socket.AF_INET6:
        region.write(SKB_LOCAL_IP6, local)
        region.write(SKB_REMOTE_IP6, remote)
    if ctx is not None:
        for off, width in _COPIED_FIELDS:
            region.write(off, ctx[off : off + width])
        region.write(SKB_WIRE_LEN, struct.pack("<I", wire_len))
        packet.gso_segs = _field(ctx, SKB_GSO_SEGS)
        packet.gso_size = _field(ctx, SKB_GSO_SIZE) & 0xFFFF  # skb_shared_info.gso_size
        packet.sync()
    return PacketContext(prog_type, packet, ctx, pool)


def _field(ctx: bytes, off: int) -> int:
    value: int = struct.unpack_from("<I", ctx, off)[0]
    return value


def eth_type_trans(frame: bytes, dev: NetDevice) -> tuple[int, int]:
    """``eth_type_trans``: (skb->protocol as a host integer, skb->pkt_type)."""
    dest = frame[:6]
    if dest == dev.mac:
        pkt_type = PACKET_HOST
    elif dest[0] & 1:
        pkt_type = PACKET_BROADCAST if dest == dev.broadcast else PACKET_MULTICAST
    else:
        pkt_type = PACKET_OTHERHOST
    proto = int.from_bytes(frame[12:14], "big")
    if proto >= ETH_P_802_3_MIN:
        return proto, pkt_type
    # An 802.3 length field: raw IPX starts with 0xFFFF, everything else is 802.2 LLC.
    return (ETH_P_802_3 if frame[14:16] == b"\xff\xff" else ETH_P_802_2), pkt_type


def _socket_addresses(protocol: int, l3: bytes) -> tuple[int, bytes, bytes]:
    """The dummy socket's (family, local address, remote address) for an IP packet."""
    if protocol == ETH_P_IP:
        if len(l3) < IPV4_HLEN:
            raise TestRunError(errno.EINVAL, f"IPv4 packet of {len(l3)} bytes has no header")
        return socket.AF_INET, l3[12:16], l3[16:20]
    if protocol == ETH_P_IPV6:
        if len(l3) < IPV6_HLEN:
            raise TestRunError(errno.EINVAL, f"IPv6 packet of {len(l3)} bytes has no header")
        return socket.AF_INET6, l3[8:24], l3[24:40]
    return socket.AF_UNSPEC, b"", b""


def _convert_ctx(ctx: bytes | None, skb_len: int) -> int:
    """``convert___skb_to_skb``'s checks; returns the wire length (``qdisc_skb_cb.pkt_len``)."""
    if ctx is None:
        return 0
    for start, end in _ZERO_RANGES:
        if any(ctx[start:end]):
            raise TestRunError(
                errno.EINVAL, f"__sk_buff bytes {start}..{end - 1} of ctx_in must be zero"
            )
    wire_len = _field(ctx, SKB_WIRE_LEN)
    if wire_len and not skb_len <= wire_len <= GSO_LEGACY_MAX_SIZE:
        raise TestRunError(errno.EINVAL, f"wire_len {wire_len} is not in {skb_len}..65536")
    if _field(ctx, SKB_GSO_SEGS) > GSO_MAX_SEGS:
        raise TestRunError(errno.EINVAL, f"gso_segs {_field(ctx, SKB_GSO_SEGS)} exceeds 65535")
    return wire_len or skb_len
