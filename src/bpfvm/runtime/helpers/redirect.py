"""``bpf_redirect_map``: XDP's redirect through a devmap, devmap_hash, cpumap or xskmap.

As ``bpf_xdp_redirect_map`` and ``__bpf_xdp_redirect_map`` do (``net/core/filter.c``,
``include/linux/filter.h``, Linux 6.18):

* ``flags``: the low two bits are the action returned when ``key`` is absent (``XDP_ABORTED``,
  ``XDP_DROP``, ``XDP_PASS``, ``XDP_TX``); devmaps also take ``BPF_F_BROADCAST`` and
  ``BPF_F_EXCLUDE_INGRESS``. Any other bit returns ``XDP_ABORTED`` and records nothing.
* the key is looked up as a u32 (the helper's u64 key truncated); the record keeps all 64 bits.
* a hit, or any broadcast, returns ``XDP_REDIRECT`` (4) and records a :class:`MapRedirect` in
  the packet state's ``redirect``, where ``bpf_redirect`` records its
  :class:`~bpfvm.runtime.packet.Redirect`.
* a miss without ``BPF_F_BROADCAST`` returns the fallback action. The kernel then resets only
  the map id and type of its redirect record, which leaves an ifindex redirect to the last
  recorded target index: ``redirect`` becomes ``Redirect(that index, 0)`` (None stays None).

Only XDP programs have this helper (``xdp_func_proto``; tc's ``tc_cls_act_func_proto`` does
not offer it), so a call from any other packet context is a fault, as the verifier's rejection
would be. ``BPF_PROG_TEST_RUN`` without live frames returns the program's ``XDP_REDIRECT`` and
does not redirect, so the packet is not sent anywhere here either.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from bpfvm.errors import VmFault
from bpfvm.program.uapi import MapType
from bpfvm.runtime.helpers.maps import the_map
from bpfvm.runtime.helpers.registry import HelperCall, HelperFn
from bpfvm.runtime.maps.devmap import BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS
from bpfvm.runtime.packet import XDP_MD_INGRESS_IFINDEX, Redirect, XdpPacket

XDP_ABORTED, XDP_REDIRECT = 0, 4
XDP_ACTION_MASK = 3  # XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX
M32 = 0xFFFFFFFF
REDIRECT_MAP_TYPES = (MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP)


@dataclass(frozen=True)
class MapRedirect(Redirect):
    """What ``bpf_redirect_map`` recorded (``struct bpf_redirect_info`` after a hit).

    ``ifindex`` is the target device of a devmap entry (0 for a cpumap, an xskmap, or a
    broadcast whose key is absent); ``flags`` are the helper's flags for a broadcast, else 0
    (as ``ri->flags``); ``key`` is the target index (``ri->tgt_index``: for a cpumap the CPU,
    for an xskmap the queue); ``targets`` are the devices a broadcast reaches
    (:meth:`~bpfvm.runtime.maps.devmap.DevMap.broadcast_targets`), empty otherwise.
    """

    map_type: int
    map_name: str
    key: int
    targets: tuple[int, ...] = ()


def _target_index(recorded: Redirect) -> int:
    return recorded.key if isinstance(recorded, MapRedirect) else recorded.ifindex


def _redirect_map(call: HelperCall, map_addr: int, key: int, flags: int, *_: int) -> int:
    packet = call.packet
    if not isinstance(packet, XdpPacket):
        raise VmFault(call.pc, "bpf_redirect_map is only available to XDP programs")
    m = the_map(call, map_addr, *REDIRECT_MAP_TYPES)
    if flags & ~(XDP_ACTION_MASK | m.flag_mask):
        return XDP_ABORTED
    target = m.redirect_lookup(key & M32)
    broadcast = bool(flags & BPF_F_BROADCAST)
    if target is None and not broadcast:
        prev = packet.redirect
        packet.redirect = None if prev is None else Redirect(_target_index(prev), 0)
        return flags & XDP_ACTION_MASK
    targets: tuple[int, ...] = ()
    if broadcast:
        exclude = ()
        if flags & BPF_F_EXCLUDE_INGRESS:
            exclude = struct.unpack_from("<I", packet.ctx.buf, XDP_MD_INGRESS_IFINDEX)
        targets = m.broadcast_targets(exclude)
    packet.redirect = MapRedirect(
        ifindex=target if m.to_devices and target is not None else 0,
        flags=flags if broadcast else 0,
        map_type=int(m.spec.type),
        map_name=m.name,
        key=key,
        targets=targets,
    )
    return XDP_REDIRECT


REDIRECT_HELPERS: Mapping[str, HelperFn] = {
    "bpf_redirect_map": _redirect_map,
}
