"""The packet descriptor: the packet geometry native packet helpers work on.

A run's native region table (:class:`~bpfvm.vm.jit.native.RegionTable`) is followed, in the
same ``u64`` array, by a descriptor of the run's packet state (``HelperCall.packet``), so the
batch runner, which switches tables per item, switches descriptors with them. Words:

* ``KIND``: :data:`PK_NONE` (native helpers call Python), :data:`PK_XDP` (a linear XDP
  buffer: no fragments) or :data:`PK_SKB`;
* ``CTX``: the context address the helpers check ``r1`` against;
* ``BASE``: the packet buffer's address; ``DATA``/``DATA_END``/``DATA_META``: offsets in it
  (a socket buffer: ``data``, ``tail``, ``data``);
* ``RUNTIME``: 1 when the context is a runtime structure (``bpfvm_xdp_buff``), with its 64-bit
  pointers at ``RT_DATA``/``RT_DATA_END``/``RT_DATA_META``;
* ``WINDOW``: the region-table row of the packet window;
* ``NSITES``: the number of site-cache entries (a moved window invalidates them all);
* ``DIRTY``: set by native code that moved the packet: :func:`pull` publishes the new
  geometry to the Python packet state (``sync()``), :func:`push` the other way round.
"""

from __future__ import annotations

import ctypes
from typing import Any

from bpfvm.fixups.ctx_layout import XDP_BUFF
from bpfvm.runtime.memory import Region
from bpfvm.runtime.packet import SkbPacket, XdpPacket

DESC_FIELDS: tuple[str, ...] = (
    "kind", "ctx", "base", "data", "data_end", "data_meta", "runtime", "rt_data",
    "rt_data_end", "rt_data_meta", "window", "nsites", "dirty",
)  # fmt: skip
DESC = {name: i for i, name in enumerate(DESC_FIELDS)}
NDESC = len(DESC_FIELDS)

PK_NONE, PK_XDP, PK_SKB = 0, 1, 2


def push(desc: ctypes.Array[Any], at: int, regions: list[Region], state: Any, nsites: int) -> None:
    """Describe ``state`` (a packet state or None) in ``desc[at:at + NDESC]``."""
    words = dict.fromkeys(DESC_FIELDS, 0)
    words["nsites"] = nsites
    window = getattr(state, "window", None)
    row = next((i for i, r in enumerate(regions) if r is window), None)
    if row is not None and isinstance(state, (XdpPacket, SkbPacket)):
        words["ctx"] = state.ctx.addr
        words["base"] = state.buffer.addr
        words["window"] = row
        if isinstance(state, XdpPacket):
            if not state.frags:
                words["kind"] = PK_XDP
            words["data"], words["data_end"] = state.data, state.data_end
            words["data_meta"] = state.data_meta
            if getattr(state, "_runtime", False):
                words["runtime"] = 1
                for name in ("data", "data_end", "data_meta"):
                    words[f"rt_{name}"] = XDP_BUFF.field_for(name).offset
        else:
            words["kind"] = PK_SKB
            words["data"], words["data_end"], words["data_meta"] = state.data, state.tail, 0
    for name, value in words.items():
        desc[at + DESC[name]] = value


def pull(desc: ctypes.Array[Any], at: int, state: Any) -> bool:
    """Publish the geometry native helpers changed to ``state``; True when there was any."""
    if not desc[at + DESC["dirty"]]:
        return False
    desc[at + DESC["dirty"]] = 0
    if isinstance(state, XdpPacket) and desc[at + DESC["kind"]] == PK_XDP:
        state.data = desc[at + DESC["data"]]
        state.data_end = desc[at + DESC["data_end"]]
        state.data_meta = desc[at + DESC["data_meta"]]
        state.sync()
        return True
    return False
