"""The runtime context structures of fixed-up packet programs (``bpfvm_xdp_buff``,
``bpfvm_sk_buff``; layouts in :mod:`bpfvm.fixups.ctx_layout`).

A program run without fixups (``--no-verify``) sees the UAPI context (``struct xdp_md``,
``struct __sk_buff``) and reads the packet pointers from its 32-bit fields, which is why packet
buffers are mapped below 4 GiB. After ``bpf_convert_ctx_accesses`` the program reads the real
64-bit pointers of the runtime structure instead. :class:`RuntimeXdpPacket` and
:class:`RuntimeSkbPacket` are the hooks' packet states with that structure as their context
region: the UAPI struct at offset 0 (what helpers, ``ctx_out`` and any unconverted access use;
its address is still the context address helpers check) and the 64-bit pointers after it,
published by every :meth:`sync` together with the UAPI fields, so both views always agree.
"""

from __future__ import annotations

import struct

from bpfvm.fixups.ctx_layout import SK_BUFF_RT, XDP_BUFF, XDP_DATA_HARD_START, RuntimeCtx
from bpfvm.runtime.memory import Region
from bpfvm.runtime.packet import SkbPacket, XdpPacket

_U64 = struct.Struct("<Q")


def _runtime_region(rt: RuntimeCtx, uapi: Region) -> Region:
    region = Region("ctx", rt.size)
    region.write(0, uapi.read(0, min(uapi.size, rt.uapi.size)))
    return region


def _pointer_offsets(rt: RuntimeCtx) -> tuple[int, int, int]:
    """Where ``rt`` keeps its 64-bit ``data``, ``data_end`` and ``data_meta`` (per layout)."""
    data, data_end, data_meta = (rt.field_for(n).offset for n in ("data", "data_end", "data_meta"))
    for off in (data, data_end, data_meta):
        if not 0 <= off <= rt.size - _U64.size:
            raise ValueError(f"runtime ctx pointer at {off} outside its {rt.size} bytes")
    return data, data_end, data_meta


_XDP_DATA, _XDP_DATA_END, _XDP_DATA_META = _pointer_offsets(XDP_BUFF)
_SKB_DATA, _SKB_DATA_END, _SKB_DATA_META = _pointer_offsets(SK_BUFF_RT)


class RuntimeXdpPacket(XdpPacket):
    """An XDP buffer whose context region is a ``bpfvm_xdp_buff``."""

    _runtime = False

    def __init__(
        self,
        linear: bytes,
        meta_len: int,
        frags: list[bytes],
        ingress_ifindex: int,
        rx_queue_index: int,
    ) -> None:
        super().__init__(linear, meta_len, frags, ingress_ifindex, rx_queue_index)
        self.ctx = _runtime_region(XDP_BUFF, self.ctx)
        self._runtime = True
        self.sync()

    def sync(self) -> None:
        super().sync()
        if not self._runtime:
            return
        base, buf, put = self.buffer.addr, self.ctx.buf, _U64.pack_into
        put(buf, _XDP_DATA, base + self.data)
        put(buf, _XDP_DATA_END, base + self.data_end)
        put(buf, _XDP_DATA_META, base + self.data_meta)
        put(buf, XDP_DATA_HARD_START, base)


class RuntimeSkbPacket(SkbPacket):
    """A socket buffer whose context region is a ``bpfvm_sk_buff``."""

    _runtime = False

    def __init__(self, frame: bytes, l2: bool) -> None:
        super().__init__(frame, l2)
        self.ctx = _runtime_region(SK_BUFF_RT, self.ctx)
        self._runtime = True
        self.sync()

    def sync(self) -> None:
        super().sync()
        if not self._runtime:
            return
        base, buf, put = self.buffer.addr, self.ctx.buf, _U64.pack_into
        put(buf, _SKB_DATA, base + self.data)
        put(buf, _SKB_DATA_END, base + self.tail)
        put(buf, _SKB_DATA_META, base + self.data)


def runtime_ctx_of(ctx: Region, rt: RuntimeCtx) -> dict[str, int]:
    """The 64-bit pointer fields of a runtime context region (for tests and dumps)."""
    return {name: _U64.unpack_from(ctx.read(f.offset, 8))[0] for name, f in rt.moved.items()}
