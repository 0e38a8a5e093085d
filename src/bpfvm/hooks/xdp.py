"""The XDP context of a test run, built as ``bpf_prog_test_run_xdp`` builds it (Linux 6.18).

* ``ctx_in`` (``struct xdp_md``) may only carry ``data`` (the metadata size: a multiple of 4
  that leaves room for ``struct xdp_frame`` in the headroom), ``data_end`` (how much of the
  input goes into the linear part; at most the input size), ``ingress_ifindex`` and
  ``rx_queue_index`` (an existing device and one of its rx queues); ``data_meta`` and
  ``egress_ifindex`` must be 0. Passing only ``ctx_out`` means a zeroed ``xdp_md`` and so an
  empty linear part.
* The first ``data`` bytes of the input are the metadata; the packet proper must still be at
  least an Ethernet header.
* The linear part holds up to 3520 bytes of packet (plus the metadata); the rest of the input
  goes into at most 17 page-sized fragments.
"""

from __future__ import annotations

import errno
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
from bpfvm.runtime.ctx_runtime import RuntimeXdpPacket
from bpfvm.runtime.packet import (
    ETH_HLEN,
    MAX_SKB_FRAGS,
    PAGE_SIZE,
    SKB_SHINFO_SIZE,
    XDP_FRAME_SIZE,
    XDP_MD_SIZE,
    XDP_METADATA_MAX,
    XDP_PACKET_HEADROOM,
    XdpPacket,
)


def build_xdp_context(
    data_in: bytes,
    ctx_in: bytes | None = None,
    *,
    ctx_out: bool = False,
    devices: tuple[NetDevice, ...] = (LOOPBACK,),
    runtime_ctx: bool = False,
    pool: PacketPool | None = None,
) -> PacketContext:
    """The XDP buffer and ``xdp_md`` for ``data_in``; raises :class:`TestRunError`.

    ``runtime_ctx``: the context is bpfvm's ``bpfvm_xdp_buff`` (for fixed-up programs);
    ``pool``: reuse a packet state of the same shape (closing the context gives it back)."""
    size = len(data_in)
    md = ctx_init(ctx_in, XDP_MD_SIZE, ctx_out)
    headroom, meta, linear = XDP_PACKET_HEADROOM, 0, size
    if md is not None:
        meta, linear = _check_md(md, size, headroom)
        headroom -= meta
    linear = min(linear, PAGE_SIZE - headroom - SKB_SHINFO_SIZE)
    if size - meta < ETH_HLEN:
        raise TestRunError(
            errno.EINVAL, f"{size - meta} bytes of packet are less than an Ethernet header"
        )
    ingress, queue = _rx_queue(md, devices)
    frags = [data_in[off : off + PAGE_SIZE] for off in range(linear, size, PAGE_SIZE)]
    if len(frags) > MAX_SKB_FRAGS:
        raise TestRunError(errno.ENOMEM, f"{size} bytes need more than {MAX_SKB_FRAGS} frags")
    cls = RuntimeXdpPacket if runtime_ctx else XdpPacket
    args = (data_in[:linear], meta, frags, ingress, queue)
    packet = cls(*args) if pool is None else pool.new(cls, *args)
    return PacketContext(ProgType.XDP, packet, md, pool)


def _check_md(md: bytes, size: int, headroom: int) -> tuple[int, int]:
    """The metadata size and linear size ``xdp_md`` asks for, after the kernel's checks."""
    data, data_end, data_meta = struct.unpack_from("<III", md)
    if data_meta:
        raise TestRunError(errno.EINVAL, "xdp_md.data_meta must be 0")
    if data_end > size:
        raise TestRunError(errno.EINVAL, f"xdp_md.data_end {data_end} exceeds the {size} bytes")
    if data > data_end:
        raise TestRunError(errno.EINVAL, f"xdp_md.data {data} exceeds data_end {data_end}")
    if data % 4 or data > XDP_METADATA_MAX or data > headroom - XDP_FRAME_SIZE:
        raise TestRunError(errno.EINVAL, f"invalid metadata size {data} (xdp_md.data)")
    return data, data_end


def _rx_queue(md: bytes | None, devices: tuple[NetDevice, ...]) -> tuple[int, int]:
    """``xdp_convert_md_to_buff``: the ingress ifindex and rx queue the program sees."""
    if md is None:
        return LOOPBACK.ifindex, 0
    ingress, queue, egress = struct.unpack_from("<III", md, 12)
    if egress:
        raise TestRunError(errno.EINVAL, "xdp_md.egress_ifindex must be 0")
    if not ingress:
        if queue:
            raise TestRunError(errno.EINVAL, "xdp_md.rx_queue_index needs an ingress_ifindex")
        return LOOPBACK.ifindex, 0
    dev = find_device(devices, ingress)
    if queue >= dev.rx_queues:
        raise TestRunError(errno.EINVAL, f"{dev.name} has no rx queue {queue}")
    return ingress, queue
