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

# word indexes (the descriptor's layout, resolved once)
_KIND, _CTX, _BASE, _DATA, _DATA_END, _DATA_META = (DESC[n] for n in DESC_FIELDS[:6])
_RUNTIME, _RT_DATA, _RT_DATA_END, _RT_DATA_META = (DESC[n] for n in DESC_FIELDS[6:10])
_WINDOW, _NSITES, _DIRTY = (DESC[n] for n in DESC_FIELDS[10:])
# where a bpfvm_xdp_buff keeps its 64-bit data, data_end and data_meta
_XDP_RT_OFFSETS = tuple(XDP_BUFF.field_for(n).offset for n in ("data", "data_end", "data_meta"))


def push(desc: ctypes.Array[Any], at: int, regions: list[Region], state: Any, nsites: int) -> None:
    """Describe ``state`` (a packet state or None) in ``desc[at:at + NDESC]``."""
    words = [0] * NDESC
    words[_NSITES] = nsites
    if isinstance(state, (XdpPacket, SkbPacket)):
        window = state.window
        row = next((i for i, r in enumerate(regions) if r is window), None)
        if row is not None:
            words[_CTX] = state.ctx.addr
            words[_BASE] = state.buffer.addr
            words[_WINDOW] = row
            if isinstance(state, XdpPacket):
                if not state.frags:
                    words[_KIND] = PK_XDP
                words[_DATA] = state.data
                words[_DATA_END] = state.data_end
                words[_DATA_META] = state.data_meta
                if getattr(state, "_runtime", False):
                    words[_RUNTIME] = 1
                    words[_RT_DATA], words[_RT_DATA_END], words[_RT_DATA_META] = _XDP_RT_OFFSETS
            else:
                words[_KIND] = PK_SKB
                words[_DATA], words[_DATA_END] = state.data, state.tail
    desc[at : at + NDESC] = words


def pull(desc: ctypes.Array[Any], at: int, state: Any) -> bool:
    """Publish the geometry native helpers changed to ``state``; True when there was any."""
    if not desc[at + _DIRTY]:
        return False
    desc[at + _DIRTY] = 0
    if isinstance(state, XdpPacket) and desc[at + _KIND] == PK_XDP:
        state.data = desc[at + _DATA]
        state.data_end = desc[at + _DATA_END]
        state.data_meta = desc[at + _DATA_META]
        state.sync()
        return True
    return False
